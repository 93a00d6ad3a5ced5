"""Change-gated execution and the ``servicenow-change`` target source, through the script
runner's own hooks and test support, against the fake ServiceNow over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pcm_aws_script_runner.hooktypes import ResolvedTarget
from pcm_aws_script_runner.testing import execution_request

API = "/api/tools/servicenow/cmdb"
RUNNER = "/api/tools/aws/script-runner"
GATED = "123456789012"
FORMAT = "%Y-%m-%d %H:%M:%S"


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner", "servicenow-cmdb"]


@pytest.fixture
def pcm_settings(make_pcm_settings, moto_aws, monkeypatch):
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    return make_pcm_settings(plugin_sections={"servicenow-cmdb": {"gate": {"accounts": [GATED]}}})


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime(FORMAT)


def target(n: int, account: str = GATED) -> ResolvedTarget:
    return ResolvedTarget(f"i-{n:017x}", account, "eu-west-1", f"web-{n}")


@pytest.fixture
def fake(connected):
    return connected


def add_change(sn, instances=(1, 2), **fields) -> str:
    """A change affecting EC2 instances ``i-...1``, ``i-...2`` placed in account GATED."""
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id=GATED)
    region = sn.add("cmdb_ci_aws_datacenter", name="eu-west-1", region="eu-west-1")
    sn.relate(region, account)
    values = {
        "short_description": "Patch",
        "type": "normal",
        "state": "-1",
        "approval": "approved",
        "on_hold": "false",
        "start_date": at(-timedelta(hours=1)),
        "end_date": at(timedelta(hours=1)),
        **fields,
    }
    change = sn.add("change_request", **values)
    for n in instances:
        vm = sn.add("cmdb_ci_vm_instance", name=f"web-{n}", object_id=f"i-{n:017x}")
        sn.relate(vm, region)
        sn.add("task_ci", task=change, ci_item=vm)
    return sn.get(change)["number"]


async def test_a_run_on_ungated_accounts_is_not_judged(aws_sr_run_checks, fake):
    report = await aws_sr_run_checks(execution_request([target(1, "999999999999")]))

    assert report.passed
    assert report.results == ()


async def test_a_gated_run_without_a_change_is_refused(aws_sr_run_checks, fake):
    report = await aws_sr_run_checks(execution_request([target(1)]))

    assert [(f.plugin, f.reason) for f in report.failures] == [
        (
            "servicenow-cmdb",
            f"runs on account {GATED} need an approved ServiceNow change: name it as the "
            "run's change reference",
        )
    ]


async def test_an_approved_change_in_its_window_covering_the_targets_allows_the_run(
    aws_sr_run_checks, fake
):
    number = add_change(fake)

    report = await aws_sr_run_checks(
        execution_request([target(1), target(2)], change_reference=number)
    )

    assert report.passed, report.failures
    assert report.results[0].reason == f"change {number} allows this run"


async def test_every_reason_is_given_at_once(aws_sr_run_checks, fake):
    number = add_change(
        fake,
        state="-4",
        approval="requested",
        on_hold="true",
        start_date=at(timedelta(hours=2)),
        end_date=at(timedelta(hours=3)),
    )

    report = await aws_sr_run_checks(
        execution_request([target(1), target(7)], change_reference=number)
    )

    [failure] = report.failures
    assert failure.reason.startswith(f"change {number}: it is in Assess, not Implement; ")
    assert "it is not approved (approval: requested)" in failure.reason
    assert "it is on hold" in failure.reason
    assert "UTC has not opened yet" in failure.reason
    assert f"1 target(s) are not among its CIs: i-{7:017x}" in failure.reason


async def test_a_closed_window_and_a_cancelled_change_are_refused(aws_sr_run_checks, fake):
    passed = add_change(fake, start_date=at(-timedelta(hours=3)), end_date=at(-timedelta(hours=1)))
    cancelled = add_change(fake, state="4")

    late = await aws_sr_run_checks(execution_request([target(1)], change_reference=passed))
    gone = await aws_sr_run_checks(execution_request([target(1)], change_reference=cancelled))

    assert "UTC has closed" in late.failures[0].reason
    assert "it is in Canceled, not Implement" in gone.failures[0].reason


async def test_a_standard_change_counts_as_preapproved(aws_sr_run_checks, fake):
    number = add_change(fake, type="standard", approval="not requested")

    report = await aws_sr_run_checks(execution_request([target(1)], change_reference=number))

    assert report.passed, report.failures


async def test_an_unknown_change_and_a_servicenow_outage_block_the_run(aws_sr_run_checks, fake):
    unknown = await aws_sr_run_checks(execution_request([target(1)], change_reference="CHG1"))
    fake.outage(True)
    down = await aws_sr_run_checks(execution_request([target(1)], change_reference="CHG1"))

    assert "no change 'CHG1'" in unknown.failures[0].reason
    assert down.failures[0].reason.startswith("ServiceNow could not be asked about CHG1")


async def test_the_target_source_turns_a_change_into_its_instances(pcm_admin_client, fake):
    number = add_change(fake)
    resolve = f"{RUNNER}/target-sources/servicenow-change/resolve"

    resolved = await pcm_admin_client.post(resolve, json={"reference": number})
    unknown = await pcm_admin_client.post(resolve, json={"reference": "CHG0000001"})

    assert resolved.status_code == 200, resolved.text
    assert [(t["instance_id"], t["account_id"], t["region"]) for t in resolved.json()] == [
        (f"i-{n:017x}", GATED, "eu-west-1") for n in (1, 2)
    ]
    assert unknown.status_code == 422
    assert "no change 'CHG0000001'" in unknown.json()["detail"][0]["msg"]


async def test_the_preview_lists_the_cis_a_change_run_leaves_out_with_why(
    pcm_admin_client, fake, aws_sr_fleet
):
    fleet = await aws_sr_fleet(eu_west_1=1)
    [instance_id] = fleet.instances["eu-west-1"]
    account = fake.add("cmdb_ci_cloud_service_account", name="fleet", account_id=fleet.account_id)
    region = fake.add("cmdb_ci_aws_datacenter", name="eu-west-1", region="eu-west-1")
    fake.relate(region, account)
    change = fake.add(
        "change_request",
        type="standard",
        state="-1",
        start_date=at(-timedelta(hours=1)),
        end_date=at(timedelta(hours=1)),
    )
    number = fake.get(change)["number"]
    vm = fake.add("cmdb_ci_vm_instance", name="web-a", object_id=instance_id)
    fake.relate(vm, region)
    fake.add("task_ci", task=change, ci_item=vm)
    nowhere = fake.add("cmdb_ci_linux_server", name="nowhere", ip_address="10.4.1.99")
    fake.add("task_ci", task=change, ci_item=nowhere)
    script = await pcm_admin_client.post(
        f"{RUNNER}/scripts", json={"name": "uptime", "language": "shell", "body": "uptime\n"}
    )
    assert script.status_code == 201, script.text

    form = await pcm_admin_client.post(
        "/tools/aws/script-runner/executions/new",
        data={
            "script_id": str(script.json()["id"]),
            "action": "preview",
            "target_source": "servicenow-change",
            "reference": number,
            "change_reference": number,
        },
        headers={"Accept": "text/html"},
    )
    preview = await pcm_admin_client.post(
        f"{RUNNER}/executions/preview",
        json={
            "script_id": script.json()["id"],
            "targets": {"source": {"name": "servicenow-change", "reference": number}},
            "change_reference": number,
        },
    )

    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["instances"], body["skipped"]) == (1, 0)
    assert body["unresolved"] == [
        {"label": "nowhere", "reason": "no instance in the inventory has IP address 10.4.1.99"}
    ]
    # The run form's preview (where the change page's link leads) lists it too.
    assert form.status_code == 200, form.text
    assert f"Target source servicenow-change: {number}" in form.text
    assert "Not resolved to an instance (1)" in form.text
    assert (
        '<tr><th scope="row">nowhere</th>'
        "<td>no instance in the inventory has IP address 10.4.1.99</td></tr>"
    ) in form.text
