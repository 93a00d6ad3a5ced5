"""Durable background work and live event streams, for core and plugins.

Jobs are DBOS workflows: plain functions whose steps are recorded as they complete, so that
a job interrupted by a crash resumes where it was, without doing a completed step again. By
default they run inside ``pcm-ops serve`` on SQLite; with PostgreSQL, ``pcm-ops worker``
processes can run them instead (see ``docs/jobs.md``).

Declaring jobs (a plugin's ``jobs.py``, named by its ``pcm_ops_jobs`` hook)::

    from dbos import DBOS
    from pcm_ops.jobs import publish_job_event

    @DBOS.step()
    def send_command(instance_ids: list[str]) -> str:
        ...  # one call that changes the world

    @DBOS.workflow(name="aws-script-runner.run")
    def run(execution_id: int, instance_ids: list[str]) -> None:
        command_id = send_command(instance_ids)
        publish_job_event("command.sent", {"command_id": command_id})

and in ``plugin.py``::

    @hookimpl
    def pcm_ops_jobs():
        return JobDefinitions(
            modules=["pcm_aws_script_runner.jobs"],
            queues=[QueueDefinition("aws-script-runner.commands", concurrency=2,
                                    partitioned=True)],
        )

Enqueueing, from a route::

    job_id = await enqueue_async(run, 42, ids, queue="aws-script-runner.commands",
                                 partition_key="123456789012:eu-west-1")

Live events: :func:`publish` to a stream of your own (``<plugin-id>:<object>``) or
:func:`publish_job_event` to the job's stream (served by core at
``GET /api/jobs/<id>/events``), and serve your streams with :func:`event_stream_response`.
"""

from __future__ import annotations

from pcm_ops.jobs.enqueue import enqueue, enqueue_async
from pcm_ops.jobs.errors import JobAlreadyFinished, JobNotFound, JobsError
from pcm_ops.jobs.events import (
    publish,
    publish_async,
    publish_job_event,
    publish_job_event_async,
    publish_many,
    publish_many_async,
)
from pcm_ops.jobs.names import job_stream
from pcm_ops.jobs.sse import event_stream_response

__all__ = [
    "JobAlreadyFinished",
    "JobNotFound",
    "JobsError",
    "enqueue",
    "enqueue_async",
    "event_stream_response",
    "job_stream",
    "publish",
    "publish_async",
    "publish_job_event",
    "publish_job_event_async",
    "publish_many",
    "publish_many_async",
]
