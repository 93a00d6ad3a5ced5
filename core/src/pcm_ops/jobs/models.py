"""The job engine's own tables: event streams, their events, and job executors.

Jobs themselves (workflows, steps, queues) live in DBOS's system database; these tables hold
what PCM-Ops adds on top: live events with ids that only increase within their stream, and
the heartbeats of the processes that execute jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Column, Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow


class EventStream(SQLModel, table=True):
    """One named event stream and the last sequence number given out in it.

    Publishers lock this row (``UPDATE ... SET last_seq = last_seq + 1``) while they insert
    an event, so that within a stream sequence numbers are handed out in commit order: a
    reader that has seen event ``n`` never later finds a committed event below ``n``.
    """

    __tablename__ = "pcm_job_stream"

    name: str = Field(primary_key=True, max_length=255)
    last_seq: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class StreamEvent(SQLModel, table=True):
    """One event of a stream. ``seq`` is its SSE id: 1, 2, 3... within ``stream``.

    ``id`` increases across all streams; the server's poller uses it to notice new events
    published by other processes. ``dedupe_key`` makes publishing from a DBOS step
    idempotent: a step that runs again after a crash publishes under the same keys.
    """

    __tablename__ = "pcm_job_event"
    __table_args__ = (
        UniqueConstraint("stream", "seq", name="uq_pcm_job_event_stream_seq"),
        UniqueConstraint("stream", "dedupe_key", name="uq_pcm_job_event_stream_dedupe_key"),
        Index("ix_pcm_job_event_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stream: str = Field(max_length=255)
    seq: int
    type: str = Field(max_length=100)
    data: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    dedupe_key: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JobExecutor(SQLModel, table=True):
    """A process that runs (or only enqueues) jobs: ``pcm-ops serve`` or ``pcm-ops worker``.

    ``heartbeat_at`` moves forward every ``jobs_heartbeat_seconds`` while the process lives;
    ``pcm-ops jobs recover`` resumes the unfinished jobs of executors whose heartbeat is
    older than ``--stale-after``. ``instance`` tells two processes with the same id apart.
    """

    __tablename__ = "pcm_job_executor"

    executor_id: str = Field(primary_key=True, max_length=100)
    kind: str = Field(max_length=20)
    executes: bool = Field(default=True)
    hostname: str = Field(max_length=255)
    pid: int
    instance: str = Field(max_length=32)
    app_version: str | None = Field(default=None, max_length=100)
    queues: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a model, for Core statements (SQLModel does not type it)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


__all__ = ["EventStream", "JobExecutor", "StreamEvent", "table_of"]
