"""Core's own tables, and the list of modules that define them.

Core's table names start with ``pcm_``; plugins' start with their ``table_prefix``. Tables
are created by migrations (``pcm_ops/db/alembic/versions/``), never by ``create_all``
outside tests, and ``pcm-ops db check`` verifies that the models below and those migrations
agree.
"""

from __future__ import annotations

import importlib
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow

#: The prefix of every core table name.
CORE_TABLE_PREFIX = "pcm_"

#: The modules whose SQLModel tables belong to core. A module listed here must have its
#: tables created by a revision in core's version directory (``pcm-ops db revision core``).
CORE_MODEL_MODULES: tuple[str, ...] = (
    "pcm_ops.db.models",
    "pcm_ops.security.models",
    "pcm_ops.jobs.models",
)


class SeedRecord(SQLModel, table=True):
    """A seed that has run: ``(owner, name)`` at ``version``. See :mod:`pcm_ops.db.seeds`."""

    __tablename__ = "pcm_seed"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_pcm_seed_owner_name"),)

    id: int | None = Field(default=None, primary_key=True)
    #: ``"core"`` or the id of the plugin that declared the seed.
    owner: str = Field(max_length=100)
    name: str = Field(max_length=200)
    version: int
    applied_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def import_core_models() -> list[type[SQLModel]]:
    """Import every module of :data:`CORE_MODEL_MODULES`; return core's table classes."""
    models: list[type[SQLModel]] = []
    for module_name in CORE_MODEL_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, SQLModel)
                and value.__module__ == module_name
                and getattr(value, "__table__", None) is not None
            ):
                models.append(value)
    return models


__all__ = ["CORE_MODEL_MODULES", "CORE_TABLE_PREFIX", "SeedRecord", "import_core_models"]
