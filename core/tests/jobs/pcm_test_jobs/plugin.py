"""The test plugin's hooks: cheap to import, like every plugin module must be."""

from __future__ import annotations

from pcm_ops import hookimpl
from pcm_ops.plugin import JobDefinitions, Permission, PluginMetadata, QueueDefinition

metadata = PluginMetadata(
    id="jobs-test",
    display_name="Jobs test",
    provider="test",
    tool="jobs",
    description="Workflows for the job engine's tests.",
)


@hookimpl
def pcm_ops_jobs() -> JobDefinitions:
    return JobDefinitions(
        modules=["pcm_test_jobs.workflows"],
        queues=[
            QueueDefinition("jobs-test.work"),
            QueueDefinition("jobs-test.limited", concurrency=2),
            QueueDefinition("jobs-test.partitioned", concurrency=1, partitioned=True),
            QueueDefinition("jobs-test.one-per-worker", worker_concurrency=1),
        ],
    )


@hookimpl
def pcm_ops_permissions() -> list[Permission]:
    return [Permission("jobs-test:things.read", "Watch things", default_roles=("admin",))]


@hookimpl
def pcm_ops_api_routers() -> list[object]:
    from pcm_test_jobs.api import router

    return [router]
