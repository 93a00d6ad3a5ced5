"""Retention: finished jobs and quiet streams are deleted after the retention period."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_prune_deletes_finished_jobs_and_their_events_but_keeps_running_ones(
    running_app: Any, work_dir: Path
) -> None:
    import anyio.to_thread

    from pcm_ops.jobs import enqueue_async, job_stream, publish_async
    from pcm_ops.jobs.events import read_events
    from pcm_ops.jobs.retention import prune

    finished = await enqueue_async(
        "jobs-test.two_steps", str(work_dir), queue="jobs-test.work", key="finished"
    )
    (work_dir / "second.release").touch()
    await running_app.wait_for_state(finished, "succeeded")
    (work_dir / "second.release").unlink()
    running = await enqueue_async(
        "jobs-test.two_steps", str(work_dir), queue="jobs-test.work", key="running"
    )
    await running_app.wait_for_state(running, "running")
    await running_app.wait_until(
        lambda: len(running_app.lines(work_dir / "second.started")) == 2, what="the hold"
    )
    await publish_async("jobs-test:thing:1", "tick")

    result = await anyio.to_thread.run_sync(
        prune, running_app.settings, running_app.store, timedelta(0)
    )

    assert (result.jobs, result.streams) == (1, 1)  # the finished job, the quiet thing
    assert result.events == 4 + 1
    assert [job.id for job in running_app.store.find(owner="jobs-test")] == [running]
    kept = await read_events(running_app.app.state.database.engine, job_stream(running))
    gone = await read_events(running_app.app.state.database.engine, job_stream(finished))
    assert [event.type for event in kept] == ["recorded", "first.done", "holding"]
    assert gone == []
    (work_dir / "second.release").touch()
    await running_app.wait_for_state(running, "succeeded")


@SQLITE
async def test_prune_keeps_what_is_younger_than_the_retention_period(
    running_app: Any, work_dir: Path
) -> None:
    import anyio.to_thread

    from pcm_ops.jobs import enqueue_async, publish_async
    from pcm_ops.jobs.retention import prune

    job_id = await enqueue_async("jobs-test.noop", queue="jobs-test.work")
    await running_app.wait_for_state(job_id, "succeeded")
    await publish_async("jobs-test:thing:1", "tick")

    result = await anyio.to_thread.run_sync(
        prune, running_app.settings, running_app.store, timedelta(days=14)
    )

    assert (result.jobs, result.streams, result.events) == (0, 0, 0)


@SQLITE
async def test_the_engine_schedules_retention_hourly_on_the_maintenance_queue(
    running_app: Any,
) -> None:
    from dbos import DBOS

    [schedule] = [s for s in DBOS.list_schedules() if s["schedule_name"] == "core:retention"]

    assert schedule["schedule"] == "0 7 * * * *"
    assert schedule["queue_name"] == "core.maintenance"
    assert schedule["workflow_name"] == "core.retention"
