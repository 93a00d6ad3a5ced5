"""Job executors: their stable ids, their heartbeats, and recovering the work of dead ones.

Every process that runs the job engine (``pcm-ops serve``, ``pcm-ops worker``) is an
*executor* with an id that stays the same across restarts (``--executor-id``,
``PCM_EXECUTOR_ID``; default ``<kind>@<host name>``). DBOS marks each job it starts with
that id, and a process that starts again under the same id resumes them by itself.

A process that never comes back (a machine lost, a worker scaled away) would leave its
jobs unfinished forever: DBOS's open-source library recovers an executor's jobs only when
an executor with the same id starts. So each executor records a heartbeat in
``pcm_job_executor``, and :func:`recover` (``pcm-ops jobs recover --stale-after 5m``) puts
the unfinished jobs of executors whose heartbeat is older than that back on their queues,
where live executors pick them up and resume them from their last completed step. It
uses the same operation as DBOS's own recovery: a job is moved only while it is still
marked as started by the dead executor, so running it twice, or alongside the executor
coming back, is safe.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pcm_ops.jobs.errors import JobsError
from pcm_ops.jobs.names import CORE_DEFAULT_QUEUE

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pcm_ops.jobs.service import JobStore
    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")

ExecutorKind = Literal["server", "worker"]


def default_executor_id(kind: ExecutorKind) -> str:
    """``server@<host name>`` or ``worker@<host name>``."""
    return f"{kind}@{socket.gethostname()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ExecutorRow:
    """An executor as ``pcm_job_executor`` records it."""

    executor_id: str
    kind: str
    executes: bool
    hostname: str
    pid: int
    app_version: str | None
    queues: list[str] | None
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None

    def age(self, now: datetime) -> timedelta:
        return now - self.heartbeat_at


def _table() -> Any:
    from pcm_ops.jobs.models import JobExecutor, table_of

    return table_of(JobExecutor)


def _has_table(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(engine).has_table(_table().name))


def list_executors(engine: Engine) -> list[ExecutorRow]:
    """Every executor ever recorded, most recent heartbeat first."""
    from sqlalchemy import select

    table = _table()
    if not _has_table(engine):
        return []
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.heartbeat_at.desc())).all()
    return [
        ExecutorRow(
            executor_id=row.executor_id,
            kind=row.kind,
            executes=row.executes,
            hostname=row.hostname,
            pid=row.pid,
            app_version=row.app_version,
            queues=row.queues,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            stopped_at=row.stopped_at,
        )
        for row in rows
    ]


class Heartbeat:
    """This process's record in ``pcm_job_executor``, kept fresh by a daemon thread."""

    def __init__(
        self,
        settings: Settings,
        executor_id: str,
        kind: ExecutorKind,
        *,
        executes: bool,
        queues: Sequence[str] | None,
        app_version: str | None,
    ) -> None:
        from pcm_ops.db.engine import create_sync_engine

        self.settings = settings
        self.executor_id = executor_id
        self.kind = kind
        self.executes = executes
        self.queues = list(queues) if queues is not None else None
        self.app_version = app_version
        self.instance = secrets.token_hex(8)
        self.interval = settings.jobs_heartbeat_seconds
        self.engine = create_sync_engine(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.registered = False

    # -- the record ---------------------------------------------------------------------

    def claim(self, *, required: bool) -> None:
        """Record this process under its executor id.

        :param required: raise when the table is missing (a worker needs it; a server
            whose database is not migrated yet only warns and keeps trying).
        :raises JobsError: another live process uses the same executor id, or (with
            ``required``) the database is not migrated.
        """
        if not _has_table(self.engine):
            message = "the database has no pcm_job_executor table yet; run `pcm-ops db upgrade`"
            if required:
                raise JobsError(message)
            logger.warning("%s (job executor heartbeats are off until then)", message)
            return
        self._upsert(check_owner=True)

    def _upsert(self, *, check_owner: bool) -> None:
        from sqlalchemy import select

        from pcm_ops.db.types import utcnow

        table = _table()
        now = utcnow()
        hostname = socket.gethostname()
        values = {
            "kind": self.kind,
            "executes": self.executes,
            "hostname": hostname,
            "pid": os.getpid(),
            "instance": self.instance,
            "app_version": self.app_version,
            "queues": self.queues,
            "started_at": now,
            "heartbeat_at": now,
            "stopped_at": None,
        }
        with self.engine.begin() as connection:
            row = connection.execute(
                select(table).where(table.c.executor_id == self.executor_id).with_for_update()
            ).first()
            if row is None:
                connection.execute(table.insert().values(executor_id=self.executor_id, **values))
            else:
                if check_owner and row.instance != self.instance:
                    self._refuse_if_alive(row, now, hostname)
                connection.execute(
                    table.update().where(table.c.executor_id == self.executor_id).values(values)
                )
        self.registered = True

    def _refuse_if_alive(self, row: Any, now: datetime, hostname: str) -> None:
        if row.stopped_at is not None:
            return
        fresh = now - row.heartbeat_at < timedelta(seconds=max(3 * self.interval, 5.0))
        if not fresh:
            return
        if row.hostname == hostname and not _process_alive(row.pid):
            return  # the same machine, and that process is gone: this is its restart
        raise JobsError(
            f"executor id {self.executor_id!r} is in use by a live process (pid {row.pid} "
            f"on {row.hostname}, last heartbeat {row.heartbeat_at:%H:%M:%S} UTC); give this "
            "process another id with --executor-id or PCM_EXECUTOR_ID"
        )

    def beat(self) -> None:
        """Move the heartbeat forward (re-recording the process if its row went away)."""
        from sqlalchemy import update

        from pcm_ops.db.types import utcnow

        table = _table()
        if not self.registered:
            if not _has_table(self.engine):
                return
            self._upsert(check_owner=True)
            return
        with self.engine.begin() as connection:
            updated = connection.execute(
                update(table)
                .where(table.c.executor_id == self.executor_id, table.c.instance == self.instance)
                .values(heartbeat_at=utcnow())
            ).rowcount
        if not updated:
            logger.warning(
                "the heartbeat record of executor %r was taken over or removed; recording it again",
                self.executor_id,
            )
            self._upsert(check_owner=False)

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"pcm-ops-heartbeat-{self.executor_id}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # the database may be briefly unreachable
                logger.warning("job executor heartbeat failed: %s", exc)

    def stop(self) -> None:
        """Stop beating and record that this process stopped."""
        from sqlalchemy import update

        from pcm_ops.db.types import utcnow

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            if self.registered:
                table = _table()
                now = utcnow()
                with self.engine.begin() as connection:
                    connection.execute(
                        update(table)
                        .where(
                            table.c.executor_id == self.executor_id,
                            table.c.instance == self.instance,
                        )
                        .values(heartbeat_at=now, stopped_at=now)
                    )
        except Exception as exc:
            logger.warning("could not record that executor %r stopped: %s", self.executor_id, exc)
        finally:
            self.engine.dispose()


# -------------------------------------------------------------------------------------------
# Recovery
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutorRecovery:
    """What :func:`recover` found for one executor that has unfinished jobs."""

    executor_id: str
    last_heartbeat: datetime | None
    stale: bool
    jobs: list[str]
    recovered: list[str]

    def describe(self, now: datetime) -> str:
        if self.last_heartbeat is None:
            seen = "no heartbeat recorded"
        else:
            seen = f"last heartbeat {_human(now - self.last_heartbeat)} ago"
        if not self.stale:
            return f"{self.executor_id}: alive ({seen}); its {len(self.jobs)} job(s) left alone"
        return (
            f"{self.executor_id}: gone ({seen}); {len(self.recovered)} of {len(self.jobs)} "
            "job(s) put back on their queues"
        )


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def recover(
    settings: Settings,
    store: JobStore,
    stale_after: timedelta,
    *,
    executor_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[ExecutorRecovery]:
    """Put the unfinished jobs of executors whose heartbeat stopped back on their queues.

    An executor is *gone* when its last heartbeat is older than ``stale_after``, or when it
    has unfinished jobs but never recorded a heartbeat. Its started jobs go back to the
    queue they came from (jobs that were started without a queue go to ``core.default``);
    live executors that listen to that queue resume them from their last completed step.

    :param executor_ids: consider only these executors.
    :param dry_run: report, change nothing.
    :return: one entry per executor that has unfinished jobs, alive or gone.
    """
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.types import utcnow

    now = now or utcnow()
    pending = store.pending_by_executor()
    engine = create_sync_engine(settings)
    try:
        known = {row.executor_id: row for row in list_executors(engine)}
    finally:
        engine.dispose()
    results = []
    for executor_id, jobs in sorted(pending.items()):
        if executor_ids is not None and executor_id not in executor_ids:
            continue
        row = known.get(executor_id)
        stale = row is None or row.age(now) >= stale_after
        recovered: list[str] = []
        if stale and not dry_run:
            recovered = _requeue(store, executor_id, jobs)
            logger.info(
                "recovered %d job(s) of executor %r: %s",
                len(recovered),
                executor_id,
                ", ".join(recovered),
            )
        results.append(
            ExecutorRecovery(
                executor_id=executor_id,
                last_heartbeat=row.heartbeat_at if row is not None else None,
                stale=stale,
                jobs=jobs,
                recovered=recovered if not dry_run else [],
            )
        )
    return results


def _requeue(store: JobStore, executor_id: str, job_ids: list[str]) -> list[str]:
    client = store.client()
    if client is None:
        return []
    system_database = client._sys_db  # DBOS's own recovery primitive; see the module doc
    return [
        job_id
        for job_id in job_ids
        if system_database.reenqueue_for_recovery(job_id, [executor_id], CORE_DEFAULT_QUEUE)
    ]


__all__ = [
    "ExecutorKind",
    "ExecutorRecovery",
    "ExecutorRow",
    "Heartbeat",
    "default_executor_id",
    "list_executors",
    "recover",
]
