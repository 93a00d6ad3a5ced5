"""Enqueueing jobs: a workflow, its arguments and a queue, from a route, a job or anywhere the
engine runs, and, given the settings, from a process where it does not run (a CLI command):
the job is then written to the jobs database for a server or worker to run.

Jobs are enqueued by workflow *name*, without an application version: whichever executor
runs the newest version of the code takes them, and a server that only enqueues (with
``jobs_execute_in_server`` off) does not have to run DBOS at all. Arguments are stored in
the system database, so they must be serialisable (plain data; never secrets).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pcm_ops.jobs.dispatcher import wake_executors
from pcm_ops.jobs.engine import current_engine, running_engine
from pcm_ops.jobs.names import CORE_DEFAULT_QUEUE, new_job_id

if TYPE_CHECKING:
    from pcm_ops.settings import Settings


def _workflow_name(workflow: Callable[..., Any] | str) -> str:
    if isinstance(workflow, str):
        return workflow
    name = getattr(workflow, "dbos_function_name", None)
    if not isinstance(name, str):
        raise TypeError(
            f"{getattr(workflow, '__qualname__', workflow)!r} is not a workflow: decorate it "
            "with @DBOS.workflow(name=...) in one of your job modules"
        )
    return name


def _options(
    workflow: Callable[..., Any] | str,
    queue: str | None,
    partition_key: str | None,
    key: str | None,
) -> dict[str, Any]:
    engine = current_engine()
    name = _workflow_name(workflow)
    owned = engine.queue(queue or CORE_DEFAULT_QUEUE)
    definition = owned.definition
    if definition.partitioned and not partition_key:
        raise ValueError(
            f"queue {owned.name!r} is partitioned: pass partition_key=... (e.g. "
            "'<account>:<region>')"
        )
    if partition_key and not definition.partitioned:
        raise ValueError(f"queue {owned.name!r} is not partitioned; drop partition_key")
    owner = engine.owner_of_workflow(name) or owned.owner
    options: dict[str, Any] = {
        "workflow_name": name,
        "queue_name": owned.name,
        "workflow_id": new_job_id(owner, key),
    }
    if partition_key:
        options["queue_partition_key"] = partition_key
    return options


def _detached_options(
    workflow: Callable[..., Any] | str,
    queue: str | None,
    partition_key: str | None,
    key: str | None,
) -> dict[str, Any]:
    """The options of a job enqueued where no engine runs: the queue's name says its owner
    (queues are named ``<plugin-id>.<name>``)."""
    name = queue or CORE_DEFAULT_QUEUE
    owner = name.partition(".")[0] if "." in name else "core"
    options: dict[str, Any] = {
        "workflow_name": _workflow_name(workflow),
        "queue_name": name,
        "workflow_id": new_job_id(owner, key),
    }
    if partition_key:
        options["queue_partition_key"] = partition_key
    return options


def _in_step() -> bool:
    """True inside a DBOS step, where DBOS cannot start a child workflow: a job enqueued
    there goes through the jobs database instead, not as a child (its ``key`` makes it
    idempotent when the step runs again)."""
    dbos_module = sys.modules.get("dbos")
    if dbos_module is None:
        return False
    dbos = dbos_module.DBOS
    return bool(dbos.workflow_id) and dbos.step_status is not None


def _no_engine(settings: Settings | None) -> bool:
    """True when no engine runs here and ``settings`` allow writing to the jobs database."""
    if running_engine() is not None:
        return False
    if settings is None:
        current_engine()  # raises the JobsError that explains where jobs can be enqueued
    return True


def enqueue(
    workflow: Callable[..., Any] | str,
    *args: Any,
    queue: str | None = None,
    partition_key: str | None = None,
    key: str | None = None,
    settings: Settings | None = None,
    **kwargs: Any,
) -> str:
    """Put a job on a queue and return its id (``<owner>:<key>``).

    Called inside a job's workflow function, the new job is recorded as its child, once:
    replaying the parent after a crash does not enqueue it again. Called inside a step
    (where DBOS cannot start a child), the job is written to the jobs database on its own;
    a step may run again after a crash, so give such a job a ``key``.

    :param workflow: a function decorated with ``@DBOS.workflow(name=...)`` in one of the
        modules your ``pcm_ops_jobs`` hook names, or its name.
    :param args: the workflow's arguments (also ``kwargs``); serialisable plain data.
    :param queue: one of the queues declared through ``pcm_ops_jobs``; default
        ``core.default``.
    :param partition_key: required on a partitioned queue (``"123456789012:eu-west-1"``).
    :param key: makes the job id ``<owner>:<key>`` instead of random: enqueueing the same
        key again returns the existing job instead of starting another.
    :param settings: where no engine runs (a CLI command), the installation's settings: the
        job is written to its jobs database and a server or worker runs it. The queue is
        then not checked against the plugins' declarations (pass ``workflow`` by name, and
        the plugin's own queue).
    :raises pcm_ops.jobs.JobsError: the engine does not run here and no ``settings`` were
        given, the jobs database does not exist yet, or the queue is unknown.
    :raises ValueError: a partition key missing or not expected; a bad key.
    """
    if _no_engine(settings):
        assert settings is not None
        from pcm_ops.jobs.service import JobStore

        options = _detached_options(workflow, queue, partition_key, key)
        store = JobStore(settings)
        try:
            store.client_for_enqueue().enqueue(options, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            store.close()
        wake_executors(settings, options["queue_name"])
        return str(options["workflow_id"])
    options = _options(workflow, queue, partition_key, key)
    engine = current_engine()
    if engine.launched and not _in_step():
        from dbos import DBOS

        DBOS.enqueue_workflow_with_options(options, *args, **kwargs)  # type: ignore[arg-type]
    else:
        client = engine.store().client_for_enqueue()
        client.enqueue(options, *args, **kwargs)  # type: ignore[arg-type]
    queue_name = options["queue_name"]
    if not engine.start_soon(queue_name) and engine.wake_others(queue_name):
        wake_executors(engine.settings, queue_name)
    return str(options["workflow_id"])


async def enqueue_async(
    workflow: Callable[..., Any] | str,
    *args: Any,
    queue: str | None = None,
    partition_key: str | None = None,
    key: str | None = None,
    settings: Settings | None = None,
    **kwargs: Any,
) -> str:
    """:func:`enqueue` for ``async`` code (routes, async workflows, CLI work)."""
    if _no_engine(settings):
        assert settings is not None
        from pcm_ops.jobs.service import JobStore

        options = _detached_options(workflow, queue, partition_key, key)
        store = JobStore(settings)
        try:
            client = store.client_for_enqueue()
            await client.enqueue_async(options, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            store.close()
        await asyncio.to_thread(wake_executors, settings, options["queue_name"])
        return str(options["workflow_id"])
    options = _options(workflow, queue, partition_key, key)
    engine = current_engine()
    if engine.launched and not _in_step():
        from dbos import DBOS

        await DBOS.enqueue_workflow_with_options_async(options, *args, **kwargs)  # type: ignore[arg-type]
    else:
        client = engine.store().client_for_enqueue()
        await client.enqueue_async(options, *args, **kwargs)  # type: ignore[arg-type]
    queue_name = options["queue_name"]
    if not engine.start_soon(queue_name) and engine.wake_others(queue_name):
        await asyncio.to_thread(wake_executors, engine.settings, queue_name)
    return str(options["workflow_id"])


__all__ = ["enqueue", "enqueue_async"]
