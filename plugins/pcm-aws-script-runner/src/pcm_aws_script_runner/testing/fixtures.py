"""The ``pcm_aws_script_runner`` pytest plugin: fixtures for plugins that build on the
script runner (see :mod:`pcm_aws_script_runner.testing`).

pytest loads it by itself where ``pcm-aws-script-runner`` is installed (entry point
``pytest11``). Only pytest and the standard library are imported at the top.

A test module of a plugin that adds a pre-execution check, end to end::

    import pytest
    from pcm_aws_script_runner.testing import execution_request


    @pytest.fixture
    def pcm_plugins():
        return ["aws-common", "aws-script-runner", "my-plugin"]


    @pytest.fixture
    def pcm_settings(moto_pcm_settings):  # aws-common pointed at the fake AWS
        return moto_pcm_settings


    async def test_my_check_refuses_an_empty_comment(aws_sr_run_checks):
        report = await aws_sr_run_checks(execution_request(comment=""))
        assert not report.passed


    async def test_a_run_on_the_fleet_succeeds(aws_sr_fleet):
        fleet = await aws_sr_fleet(us_east_1=2)
        execution = await fleet.start(comment="ticket CHG0001")
        done = await fleet.wait(execution["id"])
        assert done["status"] == "succeeded"

Executions need the job engine in the application (core's default) and are quicker with
``PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS=0.05`` and a short
``jobs_queue_poll_seconds`` in ``make_pcm_settings``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pcm_aws_script_runner.hooktypes import ExecutionRequest
    from pcm_aws_script_runner.services.executions.checks import CheckReport
    from pcm_aws_script_runner.testing.fleet import Fleet
    from pcm_ops.security.principal import Principal


@pytest.fixture
async def aws_sr_seeded_database(
    pcm_settings: Any, pcm_registry: Any, pcm_migrated_database: Any
) -> Any:
    """The migrated database with every loaded plugin's seeds run (the script runner's
    demo-free defaults, roles' permissions)."""
    from pcm_ops.db.seeds import run_seeds

    await run_seeds(pcm_settings, pcm_registry, pcm_migrated_database)
    return pcm_migrated_database


@pytest.fixture
def aws_sr_fleet(
    aws_sr_seeded_database: Any,
    pcm_client: Any,
    pcm_app: Any,
    moto_aws: Any,
    pcm_auth_headers: Callable[..., Awaitable[dict[str, str]]],
) -> Callable[..., Awaitable[Fleet]]:
    """``fleet = await aws_sr_fleet(us_east_1=3, us_west_2=0, eu_west_1=2, tags=None)``:
    a new account in the fake AWS with that many running instances per region,
    registered in aws-common and in the inventory (see
    :class:`~pcm_aws_script_runner.testing.Fleet`)."""
    from pcm_aws_script_runner.testing.fleet import FLEET_REGIONS, register_fleet

    async def make(*, tags: dict[str, str] | None = None, **per_region: int) -> Fleet:
        known = [region.replace("-", "_") for region in FLEET_REGIONS]
        unknown = set(per_region) - set(known)
        if unknown:
            raise TypeError(f"no fleet region {sorted(unknown)}; use {known}")
        counts = {region: per_region.get(region.replace("-", "_"), 0) for region in FLEET_REGIONS}
        return await register_fleet(
            pcm_client, pcm_app, moto_aws, pcm_auth_headers, counts, tags=tags
        )

    return make


@pytest.fixture
def aws_sr_run_checks(
    pcm_settings: Any, pcm_registry: Any, pcm_migrated_database: Any
) -> Callable[..., Awaitable[CheckReport]]:
    """``report = await aws_sr_run_checks(request, principal=None)``: every loaded plugin's
    ``aws_sr_pre_execution_checks`` on ``request`` (see
    :func:`~pcm_aws_script_runner.testing.execution_request`), as a run request calls
    them, each with its ``context`` on the test's migrated database; ``report.passed``,
    ``report.failures``."""
    from pcm_aws_script_runner.services.executions.checks import run_pre_execution_checks
    from pcm_ops.context import PluginContext

    contexts = PluginContext.factory(
        settings=pcm_settings, registry=pcm_registry, database=pcm_migrated_database
    )

    async def run(
        request: ExecutionRequest, principal: Principal | None = None, *, time_limit: float = 30
    ) -> CheckReport:
        return await run_pre_execution_checks(
            pcm_registry, request, principal, time_limit=time_limit, contexts=contexts
        )

    return run
