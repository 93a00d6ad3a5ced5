"""``/api/jobs``: listing, reading and cancelling jobs, under core's job permissions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _finished_job(running_app: Any, work_dir: Path, ticks: int = 1) -> str:
    from pcm_ops.jobs import enqueue_async

    job_id = await enqueue_async(
        "jobs-test.ticker", str(work_dir), ticks, 0.0, queue="jobs-test.work"
    )
    await running_app.wait_for_state(job_id, "succeeded")
    return job_id


async def test_cancel_stops_a_running_job_before_its_next_step(
    running_app: Any, work_dir: Path
) -> None:
    from pcm_ops.jobs import enqueue_async

    ticks = work_dir / "ticks.log"
    job_id = await enqueue_async("jobs-test.ticker", str(work_dir), 50, 0.2, queue="jobs-test.work")
    await running_app.wait_for_state(job_id, "running")
    await running_app.wait_until(lambda: len(running_app.lines(ticks)) >= 2, what="two steps")

    response = await running_app.client.post(
        f"/api/jobs/{job_id}/cancel", headers=running_app.auth("oscar")
    )
    at_cancel = len(running_app.lines(ticks))
    await running_app.wait_for_state(job_id, "cancelled")
    await asyncio.sleep(1.0)  # time for 5 more steps, were it still running

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    done = len(running_app.lines(ticks))
    assert done <= at_cancel + 1  # the step under way may finish; no other starts
    assert done < 50


@SQLITE
async def test_jobs_are_listed_newest_first_and_filtered_by_plugin_and_state(
    running_app: Any, work_dir: Path
) -> None:
    first = await _finished_job(running_app, work_dir)
    second = await _finished_job(running_app, work_dir)
    viewer = running_app.auth("vera")

    mine = await running_app.client.get("/api/jobs?plugin=jobs-test", headers=viewer)
    others = await running_app.client.get("/api/jobs?plugin=other", headers=viewer)
    running = await running_app.client.get(
        "/api/jobs?plugin=jobs-test&state=running", headers=viewer
    )

    assert mine.status_code == 200, mine.text
    assert [job["id"] for job in mine.json()["jobs"]] == [second, first]
    assert {job["plugin"] for job in mine.json()["jobs"]} == {"jobs-test"}
    assert mine.json()["jobs"][0]["state"] == "succeeded"
    assert others.json() == {"jobs": [], "next_offset": None}
    assert running.json()["jobs"] == []


@SQLITE
async def test_jobs_are_paged(running_app: Any, work_dir: Path) -> None:
    ids = [await _finished_job(running_app, work_dir) for _ in range(3)]
    viewer = running_app.auth("vera")

    page1 = (
        await running_app.client.get("/api/jobs?plugin=jobs-test&limit=2", headers=viewer)
    ).json()
    page2 = (
        await running_app.client.get(
            f"/api/jobs?plugin=jobs-test&limit=2&offset={page1['next_offset']}", headers=viewer
        )
    ).json()

    assert [job["id"] for job in page1["jobs"] + page2["jobs"]] == ids[::-1]
    assert page1["next_offset"] == 2
    assert page2["next_offset"] is None


@SQLITE
async def test_a_job_is_shown_with_its_steps_and_result(running_app: Any, work_dir: Path) -> None:
    job_id = await _finished_job(running_app, work_dir, ticks=2)

    response = await running_app.client.get(f"/api/jobs/{job_id}", headers=running_app.auth("vera"))

    body = response.json()
    assert response.status_code == 200, response.text
    assert (body["name"], body["queue"], body["result"]) == (
        "jobs-test.ticker",
        "jobs-test.work",
        2,
    )
    assert [(step["name"], step["state"]) for step in body["steps"]] == [
        ("jobs-test.tick", "succeeded"),
        ("jobs-test.tick", "succeeded"),
    ]
    assert body["events_url"] == f"/api/jobs/{job_id}/events"


@SQLITE
async def test_an_unknown_job_is_404(running_app: Any) -> None:
    viewer = running_app.auth("vera")

    shown = await running_app.client.get("/api/jobs/jobs-test:nope", headers=viewer)
    events = await running_app.client.get("/api/jobs/jobs-test:nope/events", headers=viewer)
    cancelled = await running_app.client.post(
        "/api/jobs/jobs-test:nope/cancel", headers=running_app.auth("oscar")
    )

    assert (shown.status_code, events.status_code, cancelled.status_code) == (404, 404, 404)


@SQLITE
async def test_viewers_may_read_jobs_but_not_cancel_them(running_app: Any, work_dir: Path) -> None:
    job_id = await _finished_job(running_app, work_dir)

    read = await running_app.client.get(f"/api/jobs/{job_id}", headers=running_app.auth("vera"))
    cancel = await running_app.client.post(
        f"/api/jobs/{job_id}/cancel", headers=running_app.auth("vera")
    )
    anonymous = await running_app.client.get("/api/jobs")

    assert read.status_code == 200
    assert cancel.status_code == 403
    assert "core:jobs.cancel" in cancel.json()["detail"]
    assert anonymous.status_code == 401


@SQLITE
async def test_cancelling_a_finished_job_is_a_conflict(running_app: Any, work_dir: Path) -> None:
    job_id = await _finished_job(running_app, work_dir)

    response = await running_app.client.post(
        f"/api/jobs/{job_id}/cancel", headers=running_app.auth("oscar")
    )

    assert response.status_code == 409
    assert "already finished (succeeded)" in response.json()["detail"]


@SQLITE
async def test_cancelling_is_audited(running_app: Any, work_dir: Path) -> None:
    from pcm_ops.jobs import enqueue_async

    job_id = await enqueue_async("jobs-test.ticker", str(work_dir), 50, 0.2, queue="jobs-test.work")
    await running_app.client.post(f"/api/jobs/{job_id}/cancel", headers=running_app.auth("oscar"))

    log = await running_app.client.get(
        "/api/audit?action=core.job.cancel", headers=running_app.auth("alice")
    )

    [event] = log.json()["events"]
    assert (event["actor"], event["object_type"], event["object_id"]) == (
        "oscar (token 'all')",
        "job",
        job_id,
    )
    assert event["details"] == {"plugin": "jobs-test", "name": "jobs-test.ticker"}


@SQLITE
async def test_a_job_id_that_cannot_exist_is_refused(running_app: Any) -> None:
    response = await running_app.client.get("/api/jobs/a%00b", headers=running_app.auth("vera"))

    assert response.status_code == 422
