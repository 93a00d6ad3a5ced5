"""Plugin schedules: declared by ``pcm_ops_jobs``, run on their queue, removed when gone,
and refused with a message that names the schedule when they cannot work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from pcm_ops.discovery import ENTRY_POINT_GROUP

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TEST_PLUGIN = EntryPoint("jobs-test", "pcm_test_jobs.plugin", ENTRY_POINT_GROUP)
SCHEDULED_PLUGIN = EntryPoint("jobs-sched", "pcm_test_jobs.scheduled", ENTRY_POINT_GROUP)
VARIANT = "PCM_TEST_JOBS_SCHEDULES"


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return value


def _registry(settings: Any) -> Any:
    from pcm_ops.discovery import discover

    return discover(settings, entry_points_=[TEST_PLUGIN, SCHEDULED_PLUGIN])


@pytest.fixture
def start_engine(job_settings: Any, migrated: None) -> Iterator[Any]:
    """``start_engine()``: a worker engine on the test's database with the scheduled test
    plugin loaded; stopped after the test (one runs at a time)."""
    from pcm_ops.jobs.engine import JobEngine

    running: list[Any] = []

    def start() -> Any:
        for engine in running:
            engine.stop()
        running.clear()
        registry = _registry(job_settings)
        engine = JobEngine(job_settings, registry, kind="worker", executor_id="sched-test")
        engine.start()
        running.append(engine)
        return engine

    yield start
    for engine in running:
        engine.stop()


def _schedules() -> dict[str, Any]:
    from dbos import DBOS

    return {schedule["schedule_name"]: schedule for schedule in DBOS.list_schedules()}


@SQLITE
def test_a_plugin_schedule_is_declared_with_its_workflow_cron_and_queue(
    start_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIANT, "tick")
    start_engine()

    schedule = _schedules()["jobs-sched:tick"]

    assert schedule["workflow_name"] == "jobs-sched.tick"
    assert schedule["schedule"] == "* * * * * *"
    assert schedule["queue_name"] == "jobs-sched.ticks"


@SQLITE
def test_a_schedule_given_by_function_goes_on_the_default_queue(
    start_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIANT, "by-function")
    engine = start_engine()

    schedule = _schedules()["jobs-sched:hourly"]

    assert engine.registry.get("jobs-sched").error is None
    assert (schedule["workflow_name"], schedule["queue_name"]) == (
        "jobs-sched.tick",
        "core.default",
    )
    assert schedule["schedule"] == "0 * * * *"


def test_scheduled_runs_happen_on_their_queue_as_jobs_named_after_the_schedule(
    start_engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trace = tmp_path / "ticks.log"
    monkeypatch.setenv(VARIANT, "tick")
    monkeypatch.setenv("PCM_TEST_JOBS_SCHEDULE_TRACE", str(trace))
    # Scheduled runs go to executors of the newest application version. The database is a
    # copy of a template whose version (made before this plugin's workflows were imported)
    # differs; DBOS stamps versions to the second on SQLite, so register ours a second later.
    time.sleep(1.1)
    engine = start_engine()

    wait_until(lambda: trace.exists() and trace.read_text().strip(), 30, "a scheduled run")
    jobs = wait_until(
        lambda: [job for job in engine.store().find(owner="jobs-sched") if job.queue], 30, "jobs"
    )

    assert all(job.id.startswith("sched-jobs-sched:tick-") for job in jobs)
    assert {job.queue for job in jobs} == {"jobs-sched.ticks"}


@SQLITE
def test_a_schedule_the_plugin_no_longer_declares_is_removed(
    start_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIANT, "by-function")
    start_engine()
    assert "jobs-sched:hourly" in _schedules()

    monkeypatch.setenv(VARIANT, "none")
    start_engine()

    names = set(_schedules())
    assert "jobs-sched:hourly" not in names
    assert "core:retention" in names  # core's own, and other owners', stay


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("bad-cron", "schedule 'tick': 'every minute' is not a cron expression"),
        ("foreign-queue", "schedule 'tick': queue 'jobs-test.work' is not one of the plugin's"),
        ("unknown-workflow", "names the workflow 'jobs-sched.missing', which none of its job"),
    ],
)
@SQLITE
def test_a_bad_schedule_fails_its_plugin_and_names_the_schedule(
    job_settings: Any, monkeypatch: pytest.MonkeyPatch, variant: str, message: str
) -> None:
    from pcm_ops.jobs.engine import load_definitions

    monkeypatch.setenv(VARIANT, variant)
    registry = _registry(job_settings)

    definitions = load_definitions(job_settings, registry)

    record = registry.get("jobs-sched")
    assert record.state.value == "failed"
    assert message in record.error
    assert "jobs-sched" not in definitions.schedules
    assert registry.get("jobs-test").state.value == "loaded"


@SQLITE
def test_a_schedule_dbos_refuses_fails_only_its_plugin(
    start_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIANT, "step")  # a step is not a workflow: DBOS refuses it

    engine = start_engine()

    record = engine.registry.get("jobs-sched")
    assert record.state.value == "failed"
    assert "its schedules could not be declared" in record.error
    assert "jobs-sched:tick" not in _schedules()
    assert engine.registry.get("jobs-test").state.value == "loaded"
