"""A test plugin with a table, two migrations that depend on core, settings and seeds."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from pcm_ops import hookimpl
from pcm_ops.plugin import MigrationTree, PluginMetadata, Seed, SeedContext

metadata = PluginMetadata(
    id="db-widgets",
    display_name="DB test widgets",
    provider="test",
    tool="widgets",
    table_prefix="dbw_",
)

#: Tests that generate revisions point this at a temporary copy.
VERSIONS_DIR = Path(__file__).parent / "widgets_versions"


class Widget(SQLModel, table=True):
    __tablename__ = "dbw_widget"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    size: int = Field(default=1)


class WidgetsConfig(BaseModel):
    seed_version: int = 1
    seed_fails: bool = False


async def _starter_widgets(context: SeedContext) -> None:
    context.session.add(Widget(name=f"starter-v{context.config.seed_version}"))
    await context.session.flush()
    if context.config.seed_fails:
        raise RuntimeError("the widget factory is closed")


async def _demo_widgets(context: SeedContext) -> None:
    context.session.add(Widget(name="demo"))


@hookimpl
def pcm_ops_settings_model() -> type[BaseModel]:
    return WidgetsConfig


@hookimpl
def pcm_ops_models() -> list[type[SQLModel]]:
    return [Widget]


@hookimpl
def pcm_ops_migrations() -> MigrationTree:
    return MigrationTree(VERSIONS_DIR)


@hookimpl
def pcm_ops_seeds(config: WidgetsConfig) -> list[Seed]:
    return [
        Seed("starter-widgets", config.seed_version, _starter_widgets),
        Seed("demo-widgets", 1, _demo_widgets, demo_only=True),
    ]
