"""The fixtures plugin authors get from ``pcm_aws_script_runner.testing`` (loaded by pytest
through the ``pytest11`` entry point), used as the docs show: a fleet in the fake AWS, an
execution run on it, and pre-execution checks called directly."""

from __future__ import annotations

import pytest

from pcm_aws_script_runner.hooktypes import ResolvedTarget
from pcm_aws_script_runner.testing import execution_request

pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def pcm_plugins(hook_plugins):
    return ["aws-common", "aws-script-runner", *hook_plugins("check_fails")]


@pytest.fixture
def pcm_settings(moto_pcm_settings, monkeypatch):
    monkeypatch.setenv("PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS", "0.05")
    return moto_pcm_settings


async def test_the_checks_of_every_loaded_plugin_judge_a_request(aws_sr_run_checks):
    target = ResolvedTarget("i-0123456789abcdef0", "111122223333", "eu-west-1", "web-1")

    refused = await aws_sr_run_checks(execution_request([target]))
    allowed = await aws_sr_run_checks(execution_request([target], change_reference="CHG0000001"))

    assert refused.passed is False
    assert [(f.plugin, f.reason) for f in refused.failures] == [
        ("sr-check-fails", "change CHG0000042 is not approved")
    ]
    assert allowed.passed is True


async def test_a_fleet_runs_a_script_to_the_end(aws_sr_fleet, moto_aws):
    fleet = await aws_sr_fleet(us_east_1=2, eu_west_1=1, tags={"Role": "db"})

    execution = await fleet.start(change_reference="CHG0000001")
    done = await fleet.wait(execution["id"])

    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 3}
    assert sorted(t["instance_id"] for t in await fleet.targets(execution["id"])) == sorted(
        fleet.all_ids()
    )
    sent = [c for c in moto_aws.ssm.commands() if c["account"] == fleet.account_id]
    assert len(sent) == 2  # one SendCommand per account-region


async def test_an_unknown_region_is_refused_naming_the_known_ones(aws_sr_fleet):
    with pytest.raises(TypeError, match="no fleet region \\['ap_south_1'\\]"):
        await aws_sr_fleet(ap_south_1=1)
