"""Executions against the extended moto server over HTTP, with the job engine running in the
application: an account registered in pcm-aws-common for each test (its own account id, so
that tests never see each other's instances or commands), instances in three regions, and
the inventory rows the sync job would write for them: the shipped fixtures of
:mod:`pcm_aws_script_runner.testing` (``aws_sr_fleet``), which plugin authors use too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pcm_aws_script_runner.testing import FLEET_REGIONS as REGIONS
from pcm_aws_script_runner.testing import Fleet

API = "/api/tools/aws/script-runner"
__all__ = ["API", "REGIONS", "Fleet"]

#: Settings that make executions and the job engine quick in tests.
FAST = {
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.05",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.2",
}
FAST_JOBS = {
    "jobs_queue_poll_seconds": 0.05,
    "jobs_heartbeat_seconds": 0.5,
    "jobs_event_poll_seconds": 0.1,
}


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from pcm_ops.security import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner"]


@pytest.fixture
def pcm_settings(
    make_pcm_settings: Callable[..., Any], moto_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    return make_pcm_settings(**FAST_JOBS)


@pytest.fixture
def seeded(aws_sr_seeded_database: Any) -> Any:
    return aws_sr_seeded_database


@pytest.fixture
def make_fleet(aws_sr_fleet: Callable[..., Awaitable[Fleet]]) -> Callable[..., Awaitable[Fleet]]:
    """``await make_fleet(us_east_1=3, ...)``: the shipped ``aws_sr_fleet`` fixture."""
    return aws_sr_fleet
