"""Names the job engine shares between processes: queues, job ids, stream names.

A job id is ``<owner>:<key>``: the id of the plugin that owns the job (``core`` for core's
own) and a key, random unless the plugin chooses one to make enqueueing idempotent. Jobs a
schedule starts are named by DBOS ``sched-<schedule name>-<time>``, and core names its
schedules ``<owner>:<name>``, so both kinds say whose they are. Child workflows get their
parent's id with a suffix, so they belong to the same owner.
"""

from __future__ import annotations

import re
import uuid

#: The DBOS application name: every process of one PCM-Ops deployment shares it.
APP_NAME = "pcm-ops"

#: The queue of core's jobs and of recovered jobs that were not started on a queue.
CORE_DEFAULT_QUEUE = "core.default"
#: The queue of core's housekeeping (retention), one job at a time.
CORE_MAINTENANCE_QUEUE = "core.maintenance"

#: The owner of core's jobs and queues.
CORE_OWNER = "core"

_SCHEDULED_PREFIX = "sched-"
_OWNER = re.compile(r"^(?:sched-)?([a-z][a-z0-9]*(?:-[a-z0-9]+)*):")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,150}$")


def new_job_id(owner: str, key: str | None = None) -> str:
    """The id of a new job of ``owner``: ``<owner>:<key>``, the key random when not given.

    :raises ValueError: ``key`` is not letters, digits and ``_ . : @ -`` (at most 151).
    """
    if key is None:
        return f"{owner}:{uuid.uuid4().hex}"
    if not _KEY.match(key):
        raise ValueError(
            f"job key {key!r} must start with a letter or digit and contain only letters, "
            "digits and _ . : @ - (at most 151 characters)"
        )
    return f"{owner}:{key}"


def owner_of(job_id: str) -> str | None:
    """The plugin id (or ``core``) that owns a job, read from its id; ``None`` if unknown."""
    match = _OWNER.match(job_id)
    return match.group(1) if match else None


def owner_prefixes(owner: str) -> list[str]:
    """The job-id prefixes of ``owner``'s jobs: enqueued ones and scheduled ones."""
    return [f"{owner}:", f"{_SCHEDULED_PREFIX}{owner}:"]


def job_stream(job_id: str) -> str:
    """The name of a job's own event stream."""
    return f"job:{job_id}"


def queue_belongs_to(queue_name: str, owner: str) -> bool:
    """Whether a queue name starts with its owner's id and a separator:
    ``aws-script-runner.commands`` (the recommended form), ``aws-script-runner-commands``."""
    return any(
        queue_name.startswith(owner + separator) and len(queue_name) > len(owner) + 1
        for separator in ".:-_"
    )


__all__ = [
    "APP_NAME",
    "CORE_DEFAULT_QUEUE",
    "CORE_MAINTENANCE_QUEUE",
    "CORE_OWNER",
    "job_stream",
    "new_job_id",
    "owner_of",
    "owner_prefixes",
    "queue_belongs_to",
]
