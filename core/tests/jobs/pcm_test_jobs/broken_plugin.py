"""A plugin whose job module does not import: it must fail alone."""

from __future__ import annotations

from pcm_ops import hookimpl
from pcm_ops.plugin import JobDefinitions, PluginMetadata, QueueDefinition

metadata = PluginMetadata(
    id="jobs-broken", display_name="Broken jobs", provider="test", tool="broken-jobs"
)


@hookimpl
def pcm_ops_jobs() -> JobDefinitions:
    return JobDefinitions(
        modules=["pcm_test_jobs.no_such_module"], queues=[QueueDefinition("jobs-broken.work")]
    )
