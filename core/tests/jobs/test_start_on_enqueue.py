"""A job enqueued where its queue is executed starts at once, not at the queue's next poll.

Every test here runs the engine with a 30 s queue poll (after the first moments, when the
queues' worker threads have read that interval), so a job that starts within a few seconds
was started by the look that followed its enqueue, not by a poll.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: Far longer than any wait in these tests.
SLOW_POLL = 30.0


@pytest.fixture
def start_on_enqueue() -> bool:
    return True


@pytest.fixture
def queue_poll() -> float:
    return SLOW_POLL


@pytest.fixture
def job_settings(job_settings: Any, start_on_enqueue: bool, queue_poll: float) -> Any:
    """conftest's settings with a 30 s queue poll."""
    return job_settings.model_copy(
        update={"jobs_queue_poll_seconds": queue_poll, "jobs_start_on_enqueue": start_on_enqueue}
    )


@pytest.fixture
async def settled_app(running_app: Any) -> Any:
    """The application, once every queue's worker thread waits out the 30 s interval (the
    first of their rounds may still use the interval the template database recorded)."""
    await asyncio.sleep(0.5)
    return running_app


def _state(app: Any, job_id: str) -> str:
    return str(app.store.get(job_id, with_steps=False).state.value)


def test_this_dbos_has_the_dequeue_functions_the_dispatcher_uses() -> None:
    """When DBOS changes them, this fails here rather than every job silently waiting for
    its queue's poll."""
    from pcm_ops.jobs.dispatcher import _dbos_dequeue_functions

    assert _dbos_dequeue_functions() is not None


async def test_a_job_enqueued_where_its_queue_runs_starts_before_the_next_poll(
    settled_app: Any, work_dir: Path
) -> None:
    from pcm_ops.jobs import enqueue_async

    began = time.monotonic()
    job_id = await enqueue_async("jobs-test.busy", str(work_dir), "work", 0, queue="jobs-test.work")
    await settled_app.wait_for_state(job_id, "succeeded", within=10)

    assert time.monotonic() - began < 10 < SLOW_POLL
    assert "work" in (work_dir / "intervals.log").read_text()
    assert settled_app.app.state.job_engine.start_soon("jobs-test.work") is True


@SQLITE
@pytest.mark.parametrize("start_on_enqueue", [False])
async def test_with_the_setting_off_a_job_waits_for_the_poll(
    settled_app: Any, work_dir: Path
) -> None:
    """The control of the test above: the same job, with the look turned off, is still
    queued seconds later (its queue's poll is 30 s away)."""
    from pcm_ops.jobs import enqueue_async

    job_id = await enqueue_async("jobs-test.busy", str(work_dir), "work", 0, queue="jobs-test.work")
    await asyncio.sleep(2)

    assert _state(settled_app, job_id) == "queued"
    assert settled_app.app.state.job_engine.start_soon("jobs-test.work") is False


async def test_the_look_keeps_to_the_queues_worker_concurrency(
    settled_app: Any, work_dir: Path
) -> None:
    """``jobs-test.one-per-worker`` runs one job at once per process: the first job starts at
    once, the second's look finds it running and starts nothing."""
    from pcm_ops.jobs import enqueue_async

    first = await enqueue_async(
        "jobs-test.busy", str(work_dir), "one", 3.0, queue="jobs-test.one-per-worker"
    )
    await settled_app.wait_for_state(first, "running", within=10)
    second = await enqueue_async(
        "jobs-test.busy", str(work_dir), "one", 3.0, queue="jobs-test.one-per-worker"
    )
    await asyncio.sleep(1)

    assert _state(settled_app, second) == "queued"
    assert _state(settled_app, first) == "running"


@SQLITE
@pytest.mark.parametrize(
    ("queue", "partition_key"),
    [("jobs-test.limited", None), ("jobs-test.partitioned", "111111111111:eu-west-1")],
)
async def test_a_queue_with_a_deployment_wide_limit_leaves_its_jobs_to_the_poll(
    settled_app: Any, work_dir: Path, queue: str, partition_key: str | None
) -> None:
    """``concurrency`` (per queue or per partition key) is counted across executors, which
    only the poll's claim does safely on SQLite: no look."""
    from pcm_ops.jobs import enqueue_async

    job_id = await enqueue_async(
        "jobs-test.busy", str(work_dir), "p", 0, queue=queue, partition_key=partition_key
    )
    await asyncio.sleep(2)

    assert _state(settled_app, job_id) == "queued"
    assert settled_app.app.state.job_engine.start_soon(queue) is False


@SQLITE
async def test_a_job_enqueued_by_a_job_starts_before_the_next_poll(
    settled_app: Any, work_dir: Path
) -> None:
    """A child job (enqueued inside a workflow) gets the same look."""
    from pcm_ops.jobs import enqueue_async

    began = time.monotonic()
    parent = await enqueue_async("jobs-test.parent", "jobs-test.work", queue="jobs-test.work")
    job = await settled_app.wait_for_state(parent, "succeeded", within=10)
    await settled_app.wait_for_state(job.result, "succeeded", within=10)

    assert time.monotonic() - began < 10
    assert job.result.startswith("jobs-test:")


@SQLITE
@pytest.mark.parametrize("queue_poll", [0.05])
async def test_a_look_that_fails_leaves_the_job_to_the_poll(
    running_app: Any, work_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """With the usual short poll of the tests: the job still runs, and the log says why it
    did not start at once."""
    from pcm_ops.jobs import enqueue_async
    from pcm_ops.jobs.dispatcher import Dispatcher

    def broken(self: Any, queue_name: str) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Dispatcher, "look_now", broken)
    job_id = await enqueue_async("jobs-test.busy", str(work_dir), "w", 0, queue="jobs-test.work")
    await running_app.wait_for_state(job_id, "succeeded", within=10)

    assert any(
        "could not start the jobs queued on jobs-test.work at once" in record.getMessage()
        and "the database went away" in record.getMessage()
        for record in caplog.records
    )


@pytest.fixture
def dbos_without_dequeue_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    from pcm_ops.jobs import dispatcher

    monkeypatch.setattr(dispatcher, "_dbos_dequeue_functions", lambda: None)


@SQLITE
@pytest.mark.parametrize("queue_poll", [0.05])
async def test_without_dbos_dequeue_functions_jobs_wait_for_the_poll(
    dbos_without_dequeue_functions: None, running_app: Any, work_dir: Path, caplog: Any
) -> None:
    """A DBOS whose dequeue functions changed: the engine starts, says so, and jobs still
    run (at the poll)."""
    from pcm_ops.jobs import enqueue_async

    job_id = await enqueue_async("jobs-test.busy", str(work_dir), "w", 0, queue="jobs-test.work")
    await running_app.wait_for_state(job_id, "succeeded", within=10)

    assert running_app.app.state.job_engine.start_soon("jobs-test.work") is False
    started = caplog.get_records("setup")
    assert any("jobs start at their queue's next poll" in r.getMessage() for r in started)


# -------------------------------------------------------------------------------------------
# Jobs enqueued in another process: the executors are rung
# -------------------------------------------------------------------------------------------

#: A worker that polls its queues every 30 s.
SLOW_WORKER = {"PCM_JOBS_QUEUE_POLL_SECONDS": str(SLOW_POLL)}


def _settled_worker(kit: Any, env: dict[str, str]) -> None:
    kit.worker("worker-rung", env=env)
    time.sleep(0.5)  # its queue threads now wait out the 30 s interval


async def test_a_job_enqueued_by_a_command_wakes_the_worker(kit: Any, work_dir: Path) -> None:
    """``enqueue(..., settings=...)``, as a CLI command does, where no engine runs: the
    worker is rung and starts the job long before its poll."""
    from pcm_ops.jobs import enqueue_async

    _settled_worker(kit, SLOW_WORKER)
    began = time.monotonic()
    job_id = await enqueue_async(
        "jobs-test.busy", str(work_dir), "rung", 0, queue="jobs-test.work", settings=kit.settings
    )
    kit.wait_for_state(job_id, "succeeded", timeout=10)

    assert time.monotonic() - began < 10 < SLOW_POLL


def test_a_job_enqueued_by_a_server_that_only_enqueues_wakes_the_worker(
    kit: Any, registry: Any, work_dir: Path
) -> None:
    """The deployment of docs/jobs.md: servers enqueue (``jobs_execute_in_server`` off),
    workers run the jobs. Sync ``enqueue`` in a thread, as a sync route would."""
    from pcm_ops.jobs import enqueue

    _settled_worker(kit, SLOW_WORKER)
    kit.serve_here(registry)  # its engine enqueues only
    began = time.monotonic()
    job_id = enqueue("jobs-test.busy", str(work_dir), "served", 0, queue="jobs-test.work")
    kit.wait_for_state(job_id, "succeeded", timeout=10)

    assert time.monotonic() - began < 10 < SLOW_POLL


@SQLITE
def test_a_worker_with_the_setting_off_is_not_rung(kit: Any, work_dir: Path) -> None:
    """The control of the two tests above."""
    from pcm_ops.jobs import enqueue

    _settled_worker(kit, {**SLOW_WORKER, "PCM_JOBS_START_ON_ENQUEUE": "false"})
    job_id = enqueue(
        "jobs-test.busy", str(work_dir), "rung", 0, queue="jobs-test.work", settings=kit.settings
    )
    time.sleep(2)

    assert kit.state(job_id) == "queued"
