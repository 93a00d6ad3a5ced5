"""Retention: finished jobs and their events are deleted after ``jobs_retention_days``.

A DBOS schedule enqueues :func:`prune_jobs_workflow` every hour on ``core.maintenance`` (one
at a time, whichever executor takes it; every executor declares the same schedule, and DBOS
starts each scheduled run once). ``pcm-ops jobs prune`` does the same on demand.

What goes:

* jobs that finished (succeeded, failed, cancelled) more than the retention period ago,
  with their steps and their own event stream (``job:<id>``);
* any other stream that has had no event for longer than the retention period (a stream
  of a job that still runs is kept). Its ids start again at 1 if it is used again; a client
  resuming it with an old ``Last-Event-ID`` gets it from the start.

This module is one of core's job modules: the engine imports it when it starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dbos import DBOS

from pcm_ops.jobs.names import CORE_MAINTENANCE_QUEUE, job_stream

if TYPE_CHECKING:
    from pcm_ops.jobs.service import JobStore
    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")

#: The schedule's name (its runs are the jobs ``sched-core:retention-<time>``).
SCHEDULE_NAME = "core:retention"
#: Every hour, at minute 7 (DBOS cron has a leading seconds field).
SCHEDULE = "0 7 * * * *"
#: Jobs deleted per batch.
BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    jobs: int
    streams: int
    events: int


def prune(
    settings: Settings, store: JobStore, older_than: timedelta, now: datetime | None = None
) -> PruneResult:
    """Delete what finished, or went quiet, more than ``older_than`` before ``now``."""
    from sqlalchemy import select

    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.types import utcnow
    from pcm_ops.jobs.events import delete_streams
    from pcm_ops.jobs.models import EventStream, table_of

    cutoff = (now or utcnow()) - older_than
    engine = create_sync_engine(settings)
    jobs = streams_deleted = events_deleted = 0
    try:
        while True:
            ids = store.finished_before(cutoff, BATCH)
            if not ids:
                break
            with engine.begin() as connection:
                events_deleted += delete_streams(connection, [job_stream(i) for i in ids])
            store.delete(ids)
            jobs += len(ids)
        table = table_of(EventStream)
        with engine.begin() as connection:
            quiet = list(
                connection.execute(select(table.c.name).where(table.c.updated_at < cutoff))
                .scalars()
                .all()
            )
        job_ids = [name.removeprefix("job:") for name in quiet if name.startswith("job:")]
        running = {job_stream(job_id) for job_id in store.active_among(job_ids)}
        forget = [name for name in quiet if name not in running]
        with engine.begin() as connection:
            events_deleted += delete_streams(connection, forget)
        streams_deleted = len(forget)
    finally:
        engine.dispose()
    result = PruneResult(jobs=jobs, streams=streams_deleted, events=events_deleted)
    if jobs or streams_deleted:
        logger.info(
            "retention: deleted %d finished job(s), %d quiet stream(s), %d event(s) older than %s",
            result.jobs,
            result.streams,
            result.events,
            cutoff.isoformat(timespec="seconds"),
        )
    return result


@DBOS.step(name="core.prune_finished_jobs")
def _prune_step() -> dict[str, int]:
    from pcm_ops.jobs.engine import current_engine

    engine = current_engine()
    days = engine.settings.jobs_retention_days
    result = prune(engine.settings, engine.store(), timedelta(days=days))
    return {"jobs": result.jobs, "streams": result.streams, "events": result.events}


@DBOS.workflow(name="core.retention")
def prune_jobs_workflow(scheduled_at: datetime, context: Any) -> None:
    """The scheduled retention job (its step's result says what it deleted)."""
    _prune_step()


def apply_retention_schedule() -> None:
    """Declare (or update) the hourly retention schedule; DBOS must be launched."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": SCHEDULE_NAME,
                "workflow_fn": prune_jobs_workflow,
                "schedule": SCHEDULE,
                "queue_name": CORE_MAINTENANCE_QUEUE,
            }
        ]
    )


__all__ = [
    "SCHEDULE_NAME",
    "PruneResult",
    "apply_retention_schedule",
    "prune",
    "prune_jobs_workflow",
]
