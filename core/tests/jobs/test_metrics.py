"""``/metrics`` of the job engine: queue depth, jobs running, how long jobs wait to start,
live executors, and open event streams; read from the database when scraped."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the series ``name{labels}`` in a Prometheus text body, or ``None``."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
        if found == wanted:
            return float(match.group(3))
    return None


async def scrape(running_app: Any) -> str:
    response = await running_app.client.get("/metrics")
    assert response.status_code == 200
    return str(response.text)


async def test_queue_depth_running_jobs_and_start_delay_by_queue(
    running_app: Any, work_dir: Path
) -> None:
    from pcm_ops.jobs import enqueue_async

    # jobs-test.limited runs two at once: two jobs hold, the third waits on the queue.
    ids = [
        await enqueue_async("jobs-test.two_steps", str(work_dir), queue="jobs-test.limited")
        for _ in range(3)
    ]
    await running_app.wait_until(
        lambda: len(running_app.lines(work_dir / "second.started")) == 2, what="two holding"
    )
    during = await scrape(running_app)
    assert sample(during, "pcm_jobs_queued", queue="jobs-test.limited") == 1.0
    assert sample(during, "pcm_jobs_running", queue="jobs-test.limited") == 2.0
    oldest = sample(during, "pcm_jobs_oldest_queued_seconds", queue="jobs-test.limited")
    assert oldest is not None
    assert oldest > 0
    assert sample(during, "pcm_jobs_queued", queue="jobs-test.work") == 0.0

    # DBOS's SQLite timestamps count whole seconds: let the third job wait one.
    queued = running_app.store.find(state="queued")
    assert len(queued) == 1
    enqueued_at = queued[0].created_at.timestamp()
    await running_app.wait_until(lambda: time.time() >= enqueued_at + 1.0, what="a second")
    (work_dir / "second.release").touch()
    for job_id in ids:
        await running_app.wait_for_state(job_id, "succeeded")
    after = await scrape(running_app)
    assert sample(after, "pcm_jobs_queued", queue="jobs-test.limited") == 0.0
    assert sample(after, "pcm_jobs_running", queue="jobs-test.limited") == 0.0
    assert sample(after, "pcm_jobs_oldest_queued_seconds", queue="jobs-test.limited") == 0.0
    # The third job waited for one of the first two to finish.
    delay = sample(after, "pcm_jobs_start_delay_seconds", queue="jobs-test.limited")
    assert delay is not None
    assert delay >= 1.0


async def test_live_executors_are_counted_by_kind(running_app: Any) -> None:
    text = await scrape(running_app)
    assert sample(text, "pcm_job_executors_alive", kind="server") == 1.0
    assert sample(text, "pcm_job_executors_alive", kind="worker") == 0.0


@SQLITE
async def test_open_event_streams_are_counted(running_app: Any) -> None:
    from pcm_ops.jobs.sse import hub_for

    hub = hub_for(running_app.app)
    with hub.subscribe("job:one"), hub.subscribe("job:two"):
        assert sample(await scrape(running_app), "pcm_event_stream_clients") == 2.0
    assert sample(await scrape(running_app), "pcm_event_stream_clients") == 0.0


@SQLITE
async def test_a_failing_scrape_callback_is_counted_and_the_rest_is_served(
    running_app: Any,
) -> None:
    from pcm_ops import metrics

    async def broken(app: Any) -> None:
        raise RuntimeError("the table is gone")

    metrics.on_scrape(running_app.app, broken)
    text = await scrape(running_app)
    assert sample(text, "pcm_job_executors_alive", kind="server") == 1.0
    errors = [line for line in text.splitlines() if line.startswith("pcm_metrics_scrape_errors")]
    assert any("broken" in line and line.endswith(" 1.0") for line in errors), errors


def test_a_metric_is_declared_once_per_process() -> None:
    from pcm_ops import metrics

    first = metrics.counter("pcm_test_declared_total", "Test", ["outcome"])
    again = metrics.counter("pcm_test_declared_total", "Test", ["outcome"])
    assert first is again
    with pytest.raises(ValueError, match="already declared"):
        metrics.counter("pcm_test_declared_total", "Test", ["other"])
    with pytest.raises(ValueError, match="already declared"):
        metrics.gauge("pcm_test_declared", "Test", ["outcome"])
