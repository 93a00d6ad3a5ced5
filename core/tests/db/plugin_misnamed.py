"""A test plugin whose table does not start with its table prefix."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="db-misnamed",
    display_name="DB test misnamed",
    provider="test",
    tool="misnamed",
    table_prefix="dbm_",
)


class Thing(SQLModel, table=True):
    __tablename__ = "misnamed_thing"

    id: int | None = Field(default=None, primary_key=True)


@hookimpl
def pcm_ops_models() -> list[type[SQLModel]]:
    return [Thing]
