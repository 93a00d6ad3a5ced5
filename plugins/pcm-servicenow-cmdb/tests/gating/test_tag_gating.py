"""Change-gated execution by instance tag (``gate.tags``): the tags come from the script
runner's inventory; the change's CIs are mapped to instances as on the change page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pcm_aws_script_runner.hooktypes import ResolvedTarget
from pcm_aws_script_runner.testing import add_inventory_instances, execution_request

ACCOUNT = "123456789012"
REGION = "eu-west-1"
FORMAT = "%Y-%m-%d %H:%M:%S"
PRODUCTION = {"Environment": "production"}


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-script-runner", "servicenow-cmdb"]


@pytest.fixture
def pcm_settings(make_pcm_settings):
    return make_pcm_settings(
        plugin_sections={"servicenow-cmdb": {"gate": {"tags": ["Environment=production"]}}}
    )


@pytest.fixture
async def inventory(pcm_app, connected):
    """Two production instances (10.0.0.1 and .2) and a development one, in the inventory."""
    database = pcm_app.state.database
    for n, tags in ((1, PRODUCTION), (2, PRODUCTION), (3, {"Environment": "development"})):
        await add_inventory_instances(
            database, ACCOUNT, REGION, [iid(n)], private_ip=f"10.0.0.{n}", tags=tags
        )
    return connected


def iid(n: int) -> str:
    return f"i-{n:017x}"


def target(n: int) -> ResolvedTarget:
    return ResolvedTarget(iid(n), ACCOUNT, REGION, f"web-{n}")


def change_on(sn, *ips: str) -> str:
    """An approved change in Implement, window open, whose CIs are servers known by IP."""
    now = datetime.now(UTC)
    change = sn.add(
        "change_request",
        short_description="Patch",
        type="normal",
        state="-1",
        approval="approved",
        on_hold="false",
        start_date=(now - timedelta(hours=1)).strftime(FORMAT),
        end_date=(now + timedelta(hours=1)).strftime(FORMAT),
    )
    for ip in ips:
        ci = sn.add("cmdb_ci_linux_server", name=f"server-{ip}", ip_address=ip)
        sn.add("task_ci", task=change, ci_item=ci)
    return sn.get(change)["number"]


async def test_a_run_on_instances_without_a_gated_tag_is_not_judged(aws_sr_run_checks, inventory):
    report = await aws_sr_run_checks(execution_request([target(3)]))

    assert report.passed
    assert report.results == ()


async def test_a_run_on_a_tagged_instance_without_a_change_is_refused(aws_sr_run_checks, inventory):
    report = await aws_sr_run_checks(execution_request([target(1), target(3)]))

    assert [(f.plugin, f.reason) for f in report.failures] == [
        (
            "servicenow-cmdb",
            f"runs on instances tagged {iid(1)} (Environment=production) need an approved "
            "ServiceNow change: name it as the run's change reference",
        )
    ]


async def test_a_change_whose_cis_map_to_the_tagged_instances_allows_the_run(
    aws_sr_run_checks, inventory
):
    number = change_on(inventory, "10.0.0.1", "10.0.0.2")

    report = await aws_sr_run_checks(
        execution_request([target(1), target(2)], change_reference=number)
    )

    assert report.passed, report.failures
    assert report.results[0].reason == f"change {number} allows this run"


async def test_a_change_that_does_not_cover_a_tagged_instance_is_refused(
    aws_sr_run_checks, inventory
):
    number = change_on(inventory, "10.0.0.1")

    report = await aws_sr_run_checks(
        execution_request([target(1), target(2)], change_reference=number)
    )

    [failure] = report.failures
    assert failure.reason == f"change {number}: 1 target(s) are not among its CIs: {iid(2)}"


@pytest.mark.parametrize("value", ["Environment", "=production", "", "Environment\n=x"])
def test_a_gated_tag_that_is_not_key_equals_value_is_refused_with_a_clear_message(value):
    from pydantic import ValidationError

    from pcm_servicenow_cmdb.config import ServiceNowSettings

    with pytest.raises(ValidationError) as raised:
        ServiceNowSettings.model_validate({"gate": {"tags": [value]}})

    [error] = raised.value.errors()
    assert error["loc"] == ("gate", "tags")
    assert "a gated tag is KEY=VALUE (Environment=production), not " + repr(value) in error["msg"]


def test_gated_tags_are_read_as_key_and_value_pairs():
    from pcm_servicenow_cmdb.config import ChangeGate

    gate = ChangeGate(tags=["Environment=production", " Team = a=b "])

    assert gate.tag_pairs() == [("Environment", "production"), ("Team", "a=b")]
