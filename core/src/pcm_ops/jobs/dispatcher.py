"""Starting a job as soon as it is enqueued, instead of at its queue's next poll.

DBOS's queues are polled: each queue's worker thread looks for queued jobs every
``jobs_queue_poll_seconds`` (1 s by default), so a job enqueued by a request waited half
that on average before it began, however idle the process. Polling faster costs a
transaction per queue and interval all the time (on SQLite, each takes the write lock).

When a job is enqueued in a process that executes its queue, the engine asks this
dispatcher to *look at that queue now*: a thread of its own claims what the queue may start
and hands it to DBOS, exactly as one round of the queue's poll does: the same claim (one
transaction that applies the queue's ``concurrency`` and ``worker_concurrency`` and marks
the jobs as this executor's), the same start. The poll goes on as before and remains the
guarantee: a job whose look failed or whose ring was lost (below), and the next job of a
full queue, wait for it as they always did.

Nothing is lost or run twice by a look: claiming is DBOS's own statement, which marks only
jobs still queued as this executor's, and a job claimed by a poll (of this process or of
another executor) is not claimed again.

Which queues: those this process executes whose only limit is ``worker_concurrency`` (how
many of its jobs run at once in one process), or none, like the script runner's
executions and ``core.default``. A queue with a deployment-wide ``concurrency`` (or a
partitioned one) is left to its poll: on SQLite, DBOS's claim counts the queue's running
jobs before it takes the write lock, so two claims at the same instant could together
start more than ``concurrency`` jobs, which one poll per process never does. For
``worker_concurrency`` the same instant can pass the limit briefly by one look's claim
(as a poll's claim can, with jobs that it started and DBOS has not counted yet).

Other processes: a job enqueued where its queue does not run (a CLI command, a server with
``jobs_execute_in_server`` off, a worker enqueuing on another worker's queue) rings the
executors after its enqueue committed (:func:`wake_executors`): ``NOTIFY pcm_job_queues``
with the queue's name on PostgreSQL, a loopback datagram to each executor registered
beside the SQLite file (``pcm-ops.db-queue-wakeup/``, as :mod:`pcm_ops.jobs.wakeups` does
for events) on SQLite. Each executor's dispatcher listens (:class:`QueueListener`) and
looks at that queue. A ring carries no data and no authority: at worst it causes a look
that finds nothing; a lost one leaves the job to the poll.

DBOS (3.x) offers no public way to do this. The look uses DBOS's own dequeue functions,
checked when the engine starts: if the installed DBOS does not have them as expected, the
dispatcher stays off (one warning says so) and every job waits for the poll, as it would
with ``jobs_start_on_enqueue`` off.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")

#: PostgreSQL's channel for "a job was enqueued on <queue>" (the payload).
QUEUE_CHANNEL = "pcm_job_queues"
#: On SQLite, every datagram to a queue listener starts with this.
QUEUE_PREFIX = b"pcm-ops-queue "
#: On SQLite, queue listeners register in ``<database file><suffix>``.
QUEUE_DIRECTORY_SUFFIX = "-queue-wakeup"


def _dbos_dequeue_functions() -> dict[str, Any] | None:
    """DBOS's functions that one round of a queue's poll uses, or ``None`` when the
    installed DBOS does not have them with the expected parameters."""
    try:
        import dbos._core as dbos_core
        import dbos._dbos as dbos_dbos
        import dbos._utils as dbos_utils
        from dbos._sys_db import SystemDatabase
    except ImportError:
        return None
    found: dict[str, Any] = {
        "instance": getattr(dbos_dbos, "_get_dbos_instance", None),
        "execute": getattr(dbos_core, "execute_dequeued_workflow", None),
        "new_id": getattr(dbos_utils, "generate_uuid", None),
        "params": getattr(dbos_utils, "GlobalParams", None),
    }
    if any(value is None for value in found.values()):
        return None
    claim = getattr(SystemDatabase, "start_queued_workflows", None)
    statuses = getattr(SystemDatabase, "get_workflow_statuses", None)
    if claim is None or statuses is None:
        return None
    try:
        claim_parameters = inspect.signature(claim).parameters
        execute_parameters = inspect.signature(found["execute"]).parameters
    except (TypeError, ValueError):
        return None
    if "owner_xid" not in claim_parameters or list(execute_parameters) != [
        "dbos",
        "status",
        "owner_xid",
    ]:
        return None
    return found


class Dispatcher:
    """Looks at a queue as soon as a job was enqueued on it (see the module's docstring).

    :param queues: the DBOS queues (as ``DBOS.register_queue`` returned them) that this
        process executes and that may start on enqueue
        (:func:`pcm_ops.jobs.queues.starts_on_enqueue`), by name.
    """

    def __init__(self, queues: dict[str, Any]) -> None:
        self._functions = _dbos_dequeue_functions()
        self._queues = queues
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = False
        self._executor: ThreadPoolExecutor | None = None
        self._listener: QueueListener | None = None
        if self._functions is None:
            logger.warning(
                "jobs start at their queue's next poll: the installed DBOS has no dequeue "
                "functions this version of PCM-Ops knows (jobs_start_on_enqueue has no effect)"
            )
        else:
            # One thread: looks at different queues one after the other, as DBOS's claims
            # of one process would anyway contend for the same database.
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="pcm-ops-dispatch")

    @property
    def active(self) -> bool:
        """Whether enqueued jobs can start before their queue's next poll."""
        return self._executor is not None and not self._stopped

    def request(self, queue_name: str) -> bool:
        """Look at ``queue_name`` soon, in the dispatcher's thread; ``False`` when its jobs
        wait for the poll (a queue this process does not execute, one with a deployment-wide
        or per-partition limit, the dispatcher stopped or off). Call it after the enqueue
        committed. Requests for a queue that a look has not begun yet are one look."""
        if not self.active or queue_name not in self._queues:
            return False
        with self._lock:
            if queue_name in self._pending:
                return True
            self._pending.add(queue_name)
        assert self._executor is not None
        try:
            self._executor.submit(self._look, queue_name)
        except RuntimeError:  # stopped meanwhile: the poll takes the job
            return False
        return True

    def _look(self, queue_name: str) -> None:
        # Off the pending set before the claim reads the queue: a job enqueued from here on
        # asks for another look rather than count on this one.
        with self._lock:
            self._pending.discard(queue_name)
        if self._stopped:
            return
        try:
            started = self.look_now(queue_name)
        except Exception as exc:  # the poll takes the job; say why it was not taken now
            logger.warning(
                "job engine: could not start the jobs queued on %s at once (%s: %s); the "
                "queue's next poll takes them",
                queue_name,
                type(exc).__name__,
                exc,
            )
            return
        if started:
            logger.debug("job engine: started %d job(s) of %s at once", started, queue_name)

    def look_now(self, queue_name: str) -> int:
        """One round of the queue's poll, in the calling thread: claim the jobs the queue
        may start and start them. Returns how many started.

        :raises sqlalchemy.exc.DBAPIError: the claim failed (the database could not be
            reached, say); nothing was claimed.
        """
        functions = self._functions
        queue = self._queues[queue_name]
        assert functions is not None
        dbos = functions["instance"]()
        system_database = dbos._sys_db
        if getattr(system_database, "sharded", False):
            return 0  # a sharded database's queues are polled scope by scope
        params = functions["params"]
        owner = functions["new_id"]()
        running = dbos._active_workflows_set.count_for_queue(queue_name)
        claimed, _ = system_database.start_queued_workflows(
            queue, params.executor_id, params.app_version, None, running, owner_xid=owner
        )
        if not claimed:
            return 0
        statuses = {
            status["workflow_uuid"]: status
            for status in system_database.get_workflow_statuses(claimed)
        }
        started = 0
        for job_id in claimed:
            status = statuses.get(job_id) or system_database.get_workflow_status(job_id)
            if status is None:
                logger.error("job engine: claimed job %s has no status", job_id)
                continue
            try:
                functions["execute"](dbos, status, owner)
            except Exception as exc:  # as DBOS's poll: the job's own error is its outcome
                logger.error("job engine: job %s could not start: %s", job_id, exc)
                continue
            started += 1
        return started

    def listen(self, settings: Settings) -> None:
        """Also look when another process rings for one of this process's queues."""
        if self.active and self._queues and self._listener is None:
            self._listener = QueueListener(settings, self.request)
            self._listener.start()

    def stop(self) -> None:
        """Stop looking; wait for a look under way (call before DBOS stops)."""
        self._stopped = True
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


class QueueListener:
    """A thread that calls ``wake(queue)`` when another process rings (see the module's
    docstring): a ``LISTEN`` connection on PostgreSQL, a loopback UDP socket on SQLite.
    Failures are logged and retried; the queues' polls go on meanwhile."""

    def __init__(self, settings: Settings, wake: Any) -> None:
        self.settings = settings
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def start(self) -> None:
        target = self._run_sqlite if self.settings.is_sqlite else self._run_postgres
        self._thread = threading.Thread(target=target, name="pcm-ops-queue-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        port = self._port
        if port is not None:  # end the socket's wait at once rather than at its timeout
            with (
                contextlib.suppress(OSError),
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker,
            ):
                waker.sendto(b"", ("127.0.0.1", port))
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run_sqlite(self) -> None:
        from pcm_ops.jobs.wakeups import (
            ensure_registered,
            remove_dead_registrations,
            wakeup_directory,
        )

        directory = wakeup_directory(
            self.settings.effective_database_url, suffix=QUEUE_DIRECTORY_SUFFIX
        )
        if directory is None:
            return
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
            receiver.bind(("127.0.0.1", 0))
            receiver.settimeout(1.0)
            self._port = receiver.getsockname()[1]
            registration = directory / f"{self._port}.{os.getpid()}"
            remove_dead_registrations(directory)
            try:
                while not self._stop.is_set():
                    ensure_registered(registration)
                    try:
                        data = receiver.recv(512)
                    except TimeoutError:
                        continue
                    except OSError as exc:
                        logger.debug("queue listener: %s", exc)
                        continue
                    if data.startswith(QUEUE_PREFIX):
                        self.wake(data[len(QUEUE_PREFIX) :].decode("utf-8", errors="replace"))
            finally:
                with contextlib.suppress(OSError):
                    registration.unlink()

    def _run_postgres(self) -> None:
        import psycopg

        from pcm_ops.jobs.wakeups import libpq_dsn

        backoff = 1.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    libpq_dsn(self.settings.effective_database_url), autocommit=True
                ) as connection:
                    connection.execute(f"LISTEN {QUEUE_CHANNEL}")
                    backoff = 1.0
                    while not self._stop.is_set():
                        # A short wait: stopping the engine waits for it to end.
                        for notification in connection.notifies(timeout=0.1):
                            self.wake(notification.payload)
            except Exception as exc:
                logger.warning(
                    "listening for jobs enqueued by other processes failed (%s); their jobs "
                    "start at the queues' polls meanwhile, retrying in %.0f s",
                    exc,
                    backoff,
                )
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 30.0)


def wake_executors(settings: Settings, queue_name: str) -> None:
    """Ring the executors of other processes: a job was just enqueued (and committed) on
    ``queue_name``. Never raises: a ring that does not arrive leaves the job to the poll.
    Nothing with ``jobs_start_on_enqueue`` off."""
    if not settings.jobs_start_on_enqueue:
        return
    try:
        if settings.is_sqlite:
            from pcm_ops.jobs.wakeups import Doorbell, wakeup_directory

            directory = wakeup_directory(
                settings.effective_database_url, suffix=QUEUE_DIRECTORY_SUFFIX
            )
            if directory is not None:
                doorbell = Doorbell(directory, prefix=QUEUE_PREFIX)
                try:
                    doorbell.ring(queue_name)
                finally:
                    doorbell.close()
            return
        _notify(settings, queue_name)
    except Exception as exc:
        logger.debug("could not wake the executors of %s: %s", queue_name, exc)


def _notify(settings: Settings, queue_name: str) -> None:
    from sqlalchemy import func, select

    from pcm_ops.jobs.events import configured_engine

    engine = configured_engine()
    if engine is not None:  # a server's or worker's own pool
        with engine.begin() as connection:
            connection.execute(select(func.pg_notify(QUEUE_CHANNEL, queue_name)))
        return
    import psycopg  # a command: one connection, once

    from pcm_ops.jobs.wakeups import libpq_dsn

    with psycopg.connect(libpq_dsn(settings.effective_database_url), autocommit=True) as connection:
        connection.execute("SELECT pg_notify(%s, %s)", (QUEUE_CHANNEL, queue_name))


__all__ = ["QUEUE_CHANNEL", "Dispatcher", "QueueListener", "wake_executors"]
