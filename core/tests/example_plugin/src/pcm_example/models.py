"""The example plugin's table. Its name starts with the plugin's table prefix, ``example_``;
migration ``example_0001`` creates it (``pcm-ops db check`` compares the two)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow


class ExampleNote(SQLModel, table=True):
    __tablename__ = "example_note"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
