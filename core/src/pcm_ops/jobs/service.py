"""Reading and cancelling jobs, in any process: the API, the CLI, a worker.

Jobs are DBOS workflows. :class:`JobStore` reads them from DBOS's system database through a
``DBOSClient``, so it works whether or not this process runs the engine (the API of a
server that only enqueues, ``pcm-ops jobs ...``). It speaks PCM-Ops's vocabulary: a job
has an owner (the plugin whose id starts the job id), a state among :data:`STATES`, and
steps.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pcm_ops.jobs.errors import JobAlreadyFinished, JobNotFound, JobsError
from pcm_ops.jobs.names import APP_NAME, owner_of, owner_prefixes

if TYPE_CHECKING:
    from dbos import DBOSClient

    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")

_PRINTABLE = re.compile(r"^[!-~]{1,255}$")

#: DBOS's system database file in the data directory, on SQLite.
SQLITE_SYSTEM_DATABASE = "pcm-ops-dbos.sqlite"


class JobState(enum.StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    """Waiting on its queue (or for a delay) to start."""
    RUNNING = "running"
    """Started by an executor and not finished (or interrupted, waiting for recovery)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Raised an error, or was recovered too many times."""
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


STATES = tuple(state.value for state in JobState)

_FROM_DBOS = {
    "ENQUEUED": JobState.QUEUED,
    "DELAYED": JobState.QUEUED,
    "PENDING": JobState.RUNNING,
    "SUCCESS": JobState.SUCCEEDED,
    "ERROR": JobState.FAILED,
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
}
_TO_DBOS: dict[JobState, list[str]] = {}
for _status, _state in _FROM_DBOS.items():
    _TO_DBOS.setdefault(_state, []).append(_status)

#: DBOS statuses of finished jobs.
FINISHED_STATUSES = [
    *_TO_DBOS[JobState.SUCCEEDED],
    *_TO_DBOS[JobState.FAILED],
    *_TO_DBOS[JobState.CANCELLED],
]
#: DBOS statuses of jobs not finished yet.
ACTIVE_STATUSES = [*_TO_DBOS[JobState.QUEUED], *_TO_DBOS[JobState.RUNNING]]


def system_database_url(settings: Settings) -> str:
    """DBOS's system database: a file beside the application's on SQLite, the application's
    own database (schema ``dbos``) on PostgreSQL."""
    if settings.is_sqlite:
        return f"sqlite:///{settings.data_dir / SQLITE_SYSTEM_DATABASE}"
    from pcm_ops.db.engine import sync_url

    return sync_url(settings)


def _time(epoch_ms: int | None) -> datetime | None:
    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def _message(error: Any) -> str | None:
    if error is None:
        return None
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class StepInfo:
    """One step of a job, in the order they ran."""

    id: int
    name: str
    state: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    child_job_id: str | None


@dataclass(frozen=True)
class JobInfo:
    """A job as PCM-Ops shows it."""

    id: str
    owner: str | None
    name: str
    state: JobState
    queue: str | None
    partition_key: str | None
    executor_id: str | None
    parent_id: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: Any = None
    steps: list[StepInfo] = field(default_factory=list)
    dbos_status: str = ""

    @classmethod
    def from_status(cls, status: Any) -> JobInfo:
        state = _FROM_DBOS.get(status.status, JobState.RUNNING)
        error = _message(status.error)
        if status.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED" and error is None:
            error = "the job was interrupted and recovered too many times"
        return cls(
            id=status.workflow_id,
            owner=owner_of(status.workflow_id),
            name=status.name,
            state=state,
            queue=status.queue_name,
            partition_key=status.queue_partition_key,
            executor_id=status.executor_id,
            parent_id=status.parent_workflow_id,
            created_at=_time(status.created_at),
            started_at=_time(status.dequeued_at),
            finished_at=_time(status.completed_at),
            error=error,
            result=status.output,
            dbos_status=status.status,
        )


def _step(info: Any) -> StepInfo:
    if info.get("error") is not None:
        state = "failed"
    elif info.get("completed_at_epoch_ms") is not None:
        state = "succeeded"
    else:
        state = "running"
    return StepInfo(
        id=info["function_id"],
        name=info["function_name"],
        state=state,
        started_at=_time(info.get("started_at_epoch_ms")),
        finished_at=_time(info.get("completed_at_epoch_ms")),
        error=_message(info.get("error")),
        child_job_id=info.get("child_workflow_id"),
    )


class JobStore:
    """Jobs in DBOS's system database, read and cancelled through a ``DBOSClient``.

    Synchronous (the CLI calls it directly, the API from a worker thread); thread-safe.
    Before any engine has created the system database there are simply no jobs.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: DBOSClient | None = None
        self._lock = threading.Lock()

    # -- connection ----------------------------------------------------------------------

    def _system_database_exists(self) -> bool:
        if self.settings.is_sqlite:
            return Path(self.settings.data_dir / SQLITE_SYSTEM_DATABASE).exists()
        return True

    def client(self) -> DBOSClient | None:
        """The client, or ``None`` while no engine has created the system database yet."""
        with self._lock:
            if self._client is None:
                if not self._system_database_exists():
                    return None
                from dbos import DBOSClient

                try:
                    self._client = DBOSClient(
                        system_database_url=system_database_url(self.settings),
                        application_name=APP_NAME,
                        system_database_pool_size=4,
                        retry_connection_errors=False,
                    )
                except Exception as exc:
                    raise JobsError(f"cannot reach the jobs database: {exc}") from None
            return self._client

    def client_for_enqueue(self) -> DBOSClient:
        """The client, for enqueueing. :raises JobsError: no system database yet."""
        client = self.client()
        if client is None:
            raise JobsError("the jobs database does not exist yet; start the job engine first")
        return client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.destroy()
                self._client = None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a client method; a system database without DBOS's tables yet has no jobs."""
        from sqlalchemy.exc import OperationalError, ProgrammingError

        client = self.client()
        if client is None:
            return None
        try:
            return getattr(client, method)(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            text = str(exc).lower()
            if "no such table" in text or "does not exist" in text:
                return None
            raise JobsError(f"cannot read jobs: {str(exc).splitlines()[0]}") from None

    # -- reading -------------------------------------------------------------------------

    def find(
        self,
        *,
        owner: str | None = None,
        state: JobState | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[JobInfo]:
        """Jobs, newest first, filtered by owner (plugin id or ``core``) and state."""
        statuses = _TO_DBOS[JobState(state)] if state else None
        statuses_found = self._call(
            "list_workflows",
            status=statuses,
            workflow_id_prefix=owner_prefixes(owner) if owner else None,
            limit=limit,
            offset=offset,
            sort_desc=True,
            load_input=False,
            load_output=False,
        )
        return [JobInfo.from_status(status) for status in statuses_found or []]

    def get(self, job_id: str, *, with_steps: bool = True) -> JobInfo:
        """One job, with its result and (by default) its steps.

        :raises JobNotFound: no such job.
        """
        if not _PRINTABLE.match(job_id):
            raise JobNotFound(job_id)  # no job has such an id; databases may refuse it
        found = self._call("list_workflows", workflow_ids=[job_id], load_input=False)
        if not found:
            raise JobNotFound(job_id)
        job = JobInfo.from_status(found[0])
        if not with_steps:
            return job
        steps = self._call("list_workflow_steps", job_id, load_output=False) or []
        return _with_steps(job, [_step(info) for info in steps])

    def state_of(self, job_id: str) -> JobState:
        return self.get(job_id, with_steps=False).state

    def pending_by_executor(self) -> dict[str, list[str]]:
        """Ids of started, unfinished jobs, by the executor that runs (or ran) them."""
        found = self._call("list_workflows", status="PENDING", load_input=False, load_output=False)
        by_executor: dict[str, list[str]] = {}
        for status in found or []:
            by_executor.setdefault(status.executor_id or "local", []).append(status.workflow_id)
        return by_executor

    def finished_before(self, cutoff: datetime, limit: int) -> list[str]:
        """Ids of jobs that finished before ``cutoff``, at most ``limit``."""
        found = self._call(
            "list_workflows",
            status=FINISHED_STATUSES,
            completed_before=cutoff.isoformat(),
            load_input=False,
            load_output=False,
            limit=limit,
        )
        return [status.workflow_id for status in found or []]

    def active_among(self, job_ids: Sequence[str]) -> set[str]:
        """Those of ``job_ids`` that have not finished."""
        if not job_ids:
            return set()
        found = self._call(
            "list_workflows",
            workflow_ids=list(job_ids),
            status=ACTIVE_STATUSES,
            load_input=False,
            load_output=False,
        )
        return {status.workflow_id for status in found or []}

    # -- changing ------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobInfo:
        """Cancel a job and the jobs it started: a queued job never starts, a running one
        stops before its next step. Returns the job as it is now.

        :raises JobNotFound: no such job. :raises JobAlreadyFinished: nothing to cancel.
        """
        job = self.get(job_id, with_steps=False)
        if job.state.finished:
            raise JobAlreadyFinished(job_id, job.state.value)
        self._call("cancel_workflow", job_id, cancel_children=True)
        return self.get(job_id, with_steps=False)

    def delete(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            self._call("delete_workflows", list(job_ids))


def _with_steps(job: JobInfo, steps: list[StepInfo]) -> JobInfo:
    from dataclasses import replace

    return replace(job, steps=steps)


__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "SQLITE_SYSTEM_DATABASE",
    "STATES",
    "JobInfo",
    "JobState",
    "JobStore",
    "StepInfo",
    "system_database_url",
]
