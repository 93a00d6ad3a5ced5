"""Durability: jobs survive SIGKILL, and the jobs of a lost worker move to a live one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any


def test_a_job_killed_mid_step_resumes_on_restart_without_repeating_completed_steps(
    kit: Any, work_dir: Path
) -> None:
    worker = kit.worker("worker-a")
    job_id = kit.enqueue("jobs-test.two_steps", "jobs-test.work", str(work_dir))
    kit.wait_until(lambda: kit.lines(work_dir / "second.started"), 30, "the second step")

    worker.kill()
    kit.worker("worker-a")  # the same executor id: DBOS resumes its jobs by itself
    kit.wait_until(
        lambda: len(kit.lines(work_dir / "second.started")) == 2,
        30,
        "the interrupted step to start again",
    )
    (work_dir / "second.release").touch()
    kit.wait_for_state(job_id, "succeeded")

    assert len(kit.lines(work_dir / "first.log")) == 1  # completed before the kill: not again
    assert len(kit.lines(work_dir / "second.log")) == 1
    # Events published before the kill are not published again: neither the one of the
    # workflow code ("first.done") nor the one of the step that ran twice ("holding").
    assert kit.events(job_id) == [
        (1, "recorded"),
        (2, "first.done"),
        (3, "holding"),
        (4, "second.done"),
    ]


def test_recover_hands_the_jobs_of_a_killed_worker_to_a_live_one(
    kit: Any, work_dir: Path, job_settings: Any
) -> None:
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.types import utcnow
    from pcm_ops.jobs.executors import list_executors, recover

    doomed = kit.worker("worker-doomed")
    job_id = kit.enqueue("jobs-test.two_steps", "jobs-test.work", str(work_dir))
    alive = kit.worker("worker-alive", wait=False)
    kit.wait_until(lambda: kit.lines(work_dir / "second.started"), 30, "the second step")
    doomed.kill()
    kit.wait_ready(alive)

    # An executor whose heartbeat is younger than --stale-after is left alone.
    [early] = recover(job_settings, kit.store, timedelta(hours=1))
    assert (early.executor_id, early.stale, early.recovered) == ("worker-doomed", False, [])

    def heartbeat_age() -> timedelta:
        engine = create_sync_engine(job_settings)
        try:
            rows = {row.executor_id: row for row in list_executors(engine)}
        finally:
            engine.dispose()
        return utcnow() - rows["worker-doomed"].heartbeat_at

    kit.wait_until(lambda: heartbeat_age() > timedelta(seconds=2), 30, "a stale heartbeat")
    result = kit.pcm_ops("jobs", "recover", "--stale-after", "2s")
    assert result.returncode == 0, result.stderr
    assert "worker-doomed: gone" in result.stdout
    assert "1 of 1 job(s) put back on their queues" in result.stdout

    kit.wait_until(
        lambda: len(kit.lines(work_dir / "second.started")) == 2,
        30,
        "the live worker to resume the job",
    )
    assert kit.lines(work_dir / "second.started")[1].startswith("worker-alive ")
    (work_dir / "second.release").touch()
    kit.wait_for_state(job_id, "succeeded")

    assert len(kit.lines(work_dir / "first.log")) == 1
    assert kit.lines(work_dir / "second.log") == ["worker-alive"]
    assert kit.store.get(job_id).executor_id == "worker-alive"
    # Nothing is left to recover: running it again changes nothing.
    assert recover(job_settings, kit.store, timedelta(seconds=2)) == []
