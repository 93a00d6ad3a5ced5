"""Queues: declared by plugins, with limits per queue and per partition key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    moments = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda moment: (moment[0], moment[1]),
    )
    running = most = 0
    for _, change in moments:
        running += change
        most = max(most, running)
    return most


def _intervals(work_dir: Path) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = {}
    for line in (work_dir / "intervals.log").read_text().splitlines():
        label, start, end = line.split()
        found.setdefault(label, []).append((float(start), float(end)))
    return found


@SQLITE
async def test_a_queue_runs_no_more_jobs_at_once_than_its_concurrency(
    running_app: Any, work_dir: Path
) -> None:
    from pcm_ops.jobs import enqueue_async

    ids = [
        await enqueue_async("jobs-test.busy", str(work_dir), "all", 0.4, queue="jobs-test.limited")
        for _ in range(5)
    ]
    for job_id in ids:
        await running_app.wait_for_state(job_id, "succeeded")

    assert _most_at_once(_intervals(work_dir)["all"]) == 2


async def test_each_partition_key_gets_its_own_concurrency_limit(
    running_app: Any, work_dir: Path
) -> None:
    from pcm_ops.jobs import enqueue_async

    ids = [
        await enqueue_async(
            "jobs-test.busy",
            str(work_dir),
            key,
            0.4,
            queue="jobs-test.partitioned",
            partition_key=key,
        )
        for key in ("111111111111:eu-west-1", "222222222222:us-east-1") * 3
    ]
    for job_id in ids:
        await running_app.wait_for_state(job_id, "succeeded")

    intervals = _intervals(work_dir)
    assert [_most_at_once(found) for found in intervals.values()] == [1, 1]
    assert _most_at_once([i for found in intervals.values() for i in found]) == 2


@SQLITE
async def test_a_partitioned_queue_needs_a_partition_key(running_app: Any, work_dir: Path) -> None:
    from pcm_ops.jobs import enqueue_async

    with pytest.raises(ValueError, match="is partitioned: pass partition_key"):
        await enqueue_async("jobs-test.busy", str(work_dir), "x", 0, queue="jobs-test.partitioned")
    with pytest.raises(ValueError, match="is not partitioned"):
        await enqueue_async(
            "jobs-test.busy", str(work_dir), "x", 0, queue="jobs-test.work", partition_key="a"
        )


@SQLITE
async def test_enqueueing_on_an_unknown_queue_is_refused(running_app: Any) -> None:
    from pcm_ops.jobs import JobsError, enqueue_async

    with pytest.raises(JobsError, match=r"unknown queue 'jobs-test\.nope'"):
        await enqueue_async("jobs-test.noop", queue="jobs-test.nope")


@SQLITE
async def test_enqueueing_with_the_same_key_twice_makes_one_job(running_app: Any) -> None:
    from pcm_ops.jobs import enqueue_async

    first = await enqueue_async("jobs-test.noop", queue="jobs-test.work", key="nightly-1")
    second = await enqueue_async("jobs-test.noop", queue="jobs-test.work", key="nightly-1")
    await running_app.wait_for_state(first, "succeeded")

    assert first == second == "jobs-test:nightly-1"
    assert [job.id for job in running_app.store.find(owner="jobs-test")] == [first]


@pytest.mark.parametrize(
    ("queue", "problem"),
    [
        ({"name": "other.q"}, "must be named after its plugin: 'demo.<name>'"),
        ({"name": "demo.q", "partitioned": True}, "is partitioned but has no concurrency"),
        (
            {"name": "demo.q", "concurrency": 1, "worker_concurrency": 2},
            "worker_concurrency cannot exceed concurrency",
        ),
        ({"name": "demo.q", "concurrency": 0}, "must be a whole number >= 1"),
    ],
)
def test_bad_queue_definitions_are_explained(queue: dict[str, Any], problem: str) -> None:
    from pcm_ops.jobs.queues import check_queue
    from pcm_ops.plugin import QueueDefinition

    assert problem in (check_queue("demo", QueueDefinition(**queue), {}) or "")


@SQLITE
def test_a_plugin_whose_job_module_fails_is_failed_and_the_others_keep_working(
    job_settings: Any,
) -> None:
    from importlib.metadata import EntryPoint

    from pcm_ops.discovery import ENTRY_POINT_GROUP, discover
    from pcm_ops.jobs.engine import load_definitions

    entry_points = [
        EntryPoint("jobs-test", "pcm_test_jobs.plugin", ENTRY_POINT_GROUP),
        EntryPoint("jobs-broken", "pcm_test_jobs.broken_plugin", ENTRY_POINT_GROUP),
    ]
    registry = discover(job_settings, entry_points_=entry_points)

    definitions = load_definitions(job_settings, registry)

    record = registry.get("jobs-broken")
    assert record.state.value == "failed"
    assert "job module pcm_test_jobs.no_such_module failed to import" in record.error
    assert "jobs-broken.work" not in definitions.queues
    assert {"core.default", "jobs-test.work"} <= set(definitions.queues)
    assert definitions.workflow_owners["jobs-test.ticker"] == "jobs-test"
    assert definitions.workflow_owners["core.retention"] == "core"
