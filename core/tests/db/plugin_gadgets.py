"""A test plugin whose model has a column (``color``) that its migration lacks."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlmodel import Field, SQLModel

from pcm_ops import hookimpl
from pcm_ops.plugin import MigrationTree, PluginMetadata, Seed, SeedContext

metadata = PluginMetadata(
    id="db-gadgets",
    display_name="DB test gadgets",
    provider="test",
    tool="gadgets",
    table_prefix="dbg_",
)

#: Tests that generate revisions point this at a temporary copy.
VERSIONS_DIR = Path(__file__).parent / "gadgets_versions"


class Gadget(SQLModel, table=True):
    __tablename__ = "dbg_gadget"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    color: str | None = Field(default=None, max_length=20)


async def _default_gadgets(context: SeedContext) -> None:
    # Plain SQL: the model's `color` column is not in the table the migration created.
    connection = await context.session.connection()
    await connection.execute(text("INSERT INTO dbg_gadget (name) VALUES ('default')"))


@hookimpl
def pcm_ops_models() -> list[type[SQLModel]]:
    return [Gadget]


@hookimpl
def pcm_ops_migrations() -> MigrationTree:
    return MigrationTree(VERSIONS_DIR)


@hookimpl
def pcm_ops_seeds() -> list[Seed]:
    return [Seed("default-gadgets", 1, _default_gadgets)]
