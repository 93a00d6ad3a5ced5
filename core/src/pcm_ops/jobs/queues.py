"""Queues: what plugins declare (:class:`pcm_ops.plugin.QueueDefinition`) made into DBOS queues.

A queue's limits hold across every process that executes jobs: ``concurrency`` is how many
of its jobs run at once in the whole deployment and ``worker_concurrency`` how many in one
process. A *partitioned* queue applies ``concurrency`` to each partition key instead (the
script runner uses ``<account>:<region>``, so that every account and region stays under
its cloud API rate limits however many jobs wait), and every job enqueued on it must carry
a partition key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pcm_ops.jobs.names import CORE_DEFAULT_QUEUE, CORE_MAINTENANCE_QUEUE, CORE_OWNER
from pcm_ops.jobs.names import queue_belongs_to as _queue_belongs_to
from pcm_ops.plugin import QueueDefinition

#: Core's own queues.
CORE_QUEUES = (
    QueueDefinition(CORE_DEFAULT_QUEUE),
    QueueDefinition(CORE_MAINTENANCE_QUEUE, concurrency=1),
)


@dataclass(frozen=True)
class OwnedQueue:
    """A queue definition and the plugin (or ``core``) that declared it."""

    owner: str
    definition: QueueDefinition

    @property
    def name(self) -> str:
        return self.definition.name


def check_queue(owner: str, definition: Any, taken: dict[str, str]) -> str | None:
    """Why ``definition`` cannot be a queue of ``owner``, or ``None`` when it can."""
    if not isinstance(definition, QueueDefinition):
        return f"queues must be pcm_ops.plugin.QueueDefinition objects, not {definition!r}"
    name = definition.name
    if not isinstance(name, str) or not _queue_belongs_to(name, owner):
        return f"queue {name!r} must be named after its plugin: '{owner}.<name>'"
    if name in taken:
        other = taken[name]
        return f"queue {name!r} is declared twice ({'again' if other == owner else 'by ' + other})"
    for attribute in ("concurrency", "worker_concurrency"):
        value = getattr(definition, attribute)
        if value is not None and (not isinstance(value, int) or value < 1):
            return f"queue {name!r}: {attribute} must be a whole number >= 1 or None"
    if definition.partitioned and definition.concurrency is None:
        return (
            f"queue {name!r} is partitioned but has no concurrency: set concurrency to the "
            "number of its jobs that may run at once per partition key"
        )
    if (
        not definition.partitioned
        and definition.concurrency is not None
        and definition.worker_concurrency is not None
        and definition.worker_concurrency > definition.concurrency
    ):
        return f"queue {name!r}: worker_concurrency cannot exceed concurrency"
    return None


def dbos_queue_options(definition: QueueDefinition, poll_seconds: float) -> dict[str, Any]:
    """The keyword arguments of ``DBOS.register_queue`` for a definition."""
    options: dict[str, Any] = {
        "worker_concurrency": definition.worker_concurrency,
        "polling_interval_sec": poll_seconds,
        # Every process of a deployment declares the same queues from the same code; the
        # last one started is right.
        "on_conflict": "always_update",
    }
    if definition.partitioned:
        options["partition_concurrency"] = definition.concurrency
    else:
        options["global_concurrency"] = definition.concurrency
    return options


def starts_on_enqueue(definition: QueueDefinition) -> bool:
    """Whether a job of this queue may start as soon as it is enqueued, without waiting for
    the queue's poll (:mod:`pcm_ops.jobs.dispatcher`): only when no limit of the queue is
    shared by executors, i.e. it has no deployment-wide (or per-partition) ``concurrency``.
    DBOS's claim on SQLite counts such a queue's running jobs before it takes the write
    lock, so only the one poll per process keeps that limit."""
    return definition.concurrency is None


def register_queues(queues: list[OwnedQueue], poll_seconds: float) -> dict[str, Any]:
    """Create or update the queues in DBOS's system database (DBOS must be launched);
    return DBOS's queue objects by name."""
    from dbos import DBOS

    return {
        queue.name: DBOS.register_queue(
            queue.name, **dbos_queue_options(queue.definition, poll_seconds)
        )
        for queue in queues
    }


def core_queues() -> list[OwnedQueue]:
    return [OwnedQueue(CORE_OWNER, definition) for definition in CORE_QUEUES]


__all__ = [
    "CORE_QUEUES",
    "OwnedQueue",
    "check_queue",
    "core_queues",
    "dbos_queue_options",
    "register_queues",
    "starts_on_enqueue",
]
