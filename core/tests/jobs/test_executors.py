"""Executor ids and heartbeats."""

from __future__ import annotations

from typing import Any

import pytest


def test_an_executor_id_in_use_by_a_live_process_is_refused(
    job_settings: Any, migrated: None
) -> None:
    from pcm_ops.jobs.errors import JobsError
    from pcm_ops.jobs.executors import Heartbeat

    first = Heartbeat(
        job_settings, "worker-twin", "worker", executes=True, queues=None, app_version=None
    )
    second = Heartbeat(
        job_settings, "worker-twin", "worker", executes=True, queues=None, app_version=None
    )
    first.claim(required=True)
    try:
        with pytest.raises(JobsError, match="executor id 'worker-twin' is in use by a live"):
            second.claim(required=True)
    finally:
        first.stop()
        second.stop()


def test_an_executor_id_whose_process_stopped_can_be_taken_again(
    job_settings: Any, migrated: None
) -> None:
    from pcm_ops.jobs.executors import Heartbeat

    first = Heartbeat(
        job_settings, "worker-again", "worker", executes=True, queues=None, app_version=None
    )
    first.claim(required=True)
    first.stop()
    second = Heartbeat(
        job_settings, "worker-again", "worker", executes=True, queues=["q"], app_version="v2"
    )
    second.claim(required=True)
    second.stop()


def test_a_worker_refuses_to_start_on_a_database_that_is_not_migrated(
    job_settings: Any, registry: Any
) -> None:
    from pcm_ops.jobs.engine import JobEngine
    from pcm_ops.jobs.errors import JobsError

    engine = JobEngine(job_settings, registry, kind="worker", executor_id="worker-early")
    with pytest.raises(JobsError, match="run `pcm-ops db upgrade`"):
        engine.start()
