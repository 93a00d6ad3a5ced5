"""The script library's tables.

A script (:class:`AwsSrScript`) is the library entry: its name, what it is for, its tags,
whether it is archived, and which of its versions is current. Its content lives in
:class:`AwsSrScriptVersion` rows, one per save, which are never changed once written (the
ORM refuses to update or delete them, see :func:`_refuse_changes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow

__all__ = ["AwsSrScript", "AwsSrScriptVersion", "ImmutableVersionError"]


class AwsSrScript(SQLModel, table=True):
    """A script of the library; its content is its current version's."""

    __tablename__ = "aws_sr_script"
    __table_args__ = (UniqueConstraint("name_key", name="uq_aws_sr_script_name_key"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    #: ``name`` case-folded: names are unique regardless of case.
    name_key: str = Field(max_length=100)
    description: str = Field(default="", max_length=1000)
    #: The current version's language (``shell`` or ``powershell``), for listing.
    language: str = Field(max_length=20)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: The number of the current (latest) version: the one a run uses.
    current_version: int = Field(default=1)
    #: The current version's content hash, for listing.
    current_sha256: str = Field(max_length=64)
    archived: bool = Field(default=False)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    archived_by: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AwsSrScriptVersion(SQLModel, table=True):
    """One saved state of a script. Immutable: a change is a new row with the next number.

    ``sha256`` covers the content that decides what runs (language, body, parameters; see
    :func:`pcm_aws_script_runner.services.validation.content_sha256`); name, description and
    tags are recorded as they were at the save, so the history shows those changes too.
    """

    __tablename__ = "aws_sr_script_version"
    __table_args__ = (
        UniqueConstraint("script_id", "number", name="uq_aws_sr_script_version_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: Indexed through the unique (script_id, number) constraint, whose first column it is.
    script_id: int = Field(foreign_key="aws_sr_script.id")
    number: int
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=1000)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str = Field(max_length=20)
    body: str = Field(sa_column=Column(Text, nullable=False))
    #: Declared parameters, each a dict with every key of
    #: :class:`pcm_aws_script_runner.services.parameters.ParameterSpec`, in declared order.
    parameters: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    sha256: str = Field(max_length=64)
    comment: str = Field(default="", max_length=500)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ImmutableVersionError(RuntimeError):
    """Something tried to change or delete a saved script version."""


@event.listens_for(AwsSrScriptVersion, "before_update")
@event.listens_for(AwsSrScriptVersion, "before_delete")
def _refuse_changes(mapper: Any, connection: Any, target: AwsSrScriptVersion) -> None:
    raise ImmutableVersionError(
        f"script version {target.script_id}/{target.number} is immutable; save a new "
        "version instead"
    )
