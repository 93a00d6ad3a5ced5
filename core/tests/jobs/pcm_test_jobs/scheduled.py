"""A plugin with schedules, for the schedule tests. ``SCHEDULES`` chooses what its hook
returns (the tests set it): ``"tick"``, ``"by-function"``, ``"none"`` or a broken variant."""

from __future__ import annotations

import os

from pcm_ops import hookimpl
from pcm_ops.plugin import JobDefinitions, PluginMetadata, QueueDefinition, ScheduleDefinition

metadata = PluginMetadata(
    id="jobs-sched",
    display_name="Jobs schedule test",
    provider="test",
    tool="schedules",
    description="A scheduled workflow for the job engine's tests.",
)

#: The environment variable that chooses the variant.
VARIANT = "PCM_TEST_JOBS_SCHEDULES"
QUEUE = "jobs-sched.ticks"
MODULE = "pcm_test_jobs.scheduled_workflows"


@hookimpl
def pcm_ops_jobs() -> JobDefinitions:
    variant = os.environ.get(VARIANT, "tick")
    schedules: list[ScheduleDefinition] = []
    if variant == "tick":
        schedules = [ScheduleDefinition("tick", "jobs-sched.tick", "* * * * * *", queue=QUEUE)]
    elif variant == "by-function":
        from pcm_test_jobs.scheduled_workflows import tick

        schedules = [ScheduleDefinition("hourly", tick, "0 * * * *")]
    elif variant == "bad-cron":
        schedules = [ScheduleDefinition("tick", "jobs-sched.tick", "every minute", queue=QUEUE)]
    elif variant == "foreign-queue":
        schedules = [ScheduleDefinition("tick", "jobs-sched.tick", "* * * * *", "jobs-test.work")]
    elif variant == "unknown-workflow":
        schedules = [ScheduleDefinition("tick", "jobs-sched.missing", "* * * * *", queue=QUEUE)]
    elif variant == "step":
        schedules = [ScheduleDefinition("tick", "jobs-sched.note", "* * * * *", queue=QUEUE)]
    return JobDefinitions(modules=[MODULE], queues=[QueueDefinition(QUEUE)], schedules=schedules)
