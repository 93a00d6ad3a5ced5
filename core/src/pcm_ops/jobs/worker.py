"""``pcm-ops worker``: a process that only runs jobs, until it is told to stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_ops.jobs.engine import JobEngine
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")


def run_worker(
    settings: Settings,
    registry: PluginRegistry,
    *,
    queues: Sequence[str] | None = None,
    executor_id: str | None = None,
    drain_seconds: int = 10,
    on_ready: Callable[[JobEngine], Any] | None = None,
) -> None:
    """Start the job engine as a worker and run until SIGTERM or SIGINT (Ctrl-C).

    On a stop signal the worker stops taking jobs, waits up to ``drain_seconds`` for the
    running ones, and exits; jobs still running then resume when a worker with the same
    executor id starts, or after ``pcm-ops jobs recover``.

    :raises pcm_ops.jobs.JobsError: the engine cannot start (unknown queue, executor id
        in use, database not migrated, ...).
    :raises pcm_ops.security.secrets.KeyMismatchError: the secret key cannot decrypt the
        secrets already stored.
    """
    from pcm_ops.jobs.engine import JobEngine
    from pcm_ops.security.secrets import verify_key

    # Refuses to start with a key that cannot decrypt the secrets already stored.
    verify_key(settings, registry)
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    previous = {
        number: signal.signal(number, request_stop) for number in (signal.SIGTERM, signal.SIGINT)
    }
    engine = JobEngine(
        settings, registry, kind="worker", executor_id=executor_id, queues=queues, executes=True
    )
    try:
        engine.start()
        try:
            from pcm_ops.memory import tune_garbage_collector

            tune_garbage_collector(settings)
            if on_ready is not None:
                on_ready(engine)
            stop.wait()
        finally:
            engine.stop(drain_seconds=drain_seconds)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


__all__ = ["run_worker"]
