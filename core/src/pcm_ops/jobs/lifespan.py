"""Starting and stopping the job engine with the web application (``pcm-ops serve``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger("pcm_ops.jobs")


async def start_jobs(app: FastAPI) -> None:
    """Start the engine for ``app`` (executing jobs unless ``jobs_execute_in_server`` is
    off) and its event hub. Called by the lifespan before the plugins' start-up hooks, so
    that they can enqueue jobs.

    :raises pcm_ops.jobs.JobsError: the engine cannot start (the server does not start).
    """
    import anyio.to_thread

    from pcm_ops.jobs.engine import JobEngine
    from pcm_ops.jobs.sse import hub_for

    settings = app.state.settings
    engine = JobEngine(
        settings,
        app.state.registry,
        kind="server",
        executes=settings.jobs_execute_in_server,
    )
    await anyio.to_thread.run_sync(engine.start)
    app.state.job_engine = engine
    hub_for(app)
    if not settings.jobs_execute_in_server:
        logger.warning(
            "jobs_execute_in_server is off: this server only enqueues jobs; they run in "
            "`pcm-ops worker` processes (see `pcm-ops jobs executors`)"
        )


async def stop_jobs(app: FastAPI) -> None:
    """Stop what :func:`start_jobs` started. Jobs still running are resumed when a process
    with the same executor id starts again (or by ``pcm-ops jobs recover``)."""
    import anyio.to_thread

    hub = getattr(app.state, "job_event_hub", None)
    if hub is not None:
        await hub.stop()
        app.state.job_event_hub = None
    engine = getattr(app.state, "job_engine", None)
    if engine is not None:
        app.state.job_engine = None
        await anyio.to_thread.run_sync(engine.stop)
    store = getattr(app.state, "job_store", None)
    if store is not None:
        app.state.job_store = None
        await anyio.to_thread.run_sync(store.close)


__all__ = ["start_jobs", "stop_jobs"]
