"""A change cancelled between a gated run's request and its start stops the run: the
script runner asks the checks again when the queued run starts, and this plugin's check
then reads the change as it is now. Against the fake ServiceNow and the fake AWS."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from pcm_ops.discovery import ENTRY_POINT_GROUP

FORMAT = "%Y-%m-%d %H:%M:%S"
TAG = "Environment=production"


@pytest.fixture
def pcm_plugins(monkeypatch) -> list:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    sys.modules.pop("snow_test_canceller", None)
    return [
        "aws-common",
        "aws-script-runner",
        "servicenow-cmdb",
        EntryPoint("snow-test-canceller", "snow_test_canceller", ENTRY_POINT_GROUP),
    ]


@pytest.fixture
def pcm_settings(make_pcm_settings, moto_aws, monkeypatch):
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    return make_pcm_settings(
        plugin_sections={"servicenow-cmdb": {"gate": {"tags": [TAG]}, "work_notes": False}}
    )


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime(FORMAT)


def _change_for(sn, fleet) -> str:
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id=fleet.account_id)
    change = sn.add(
        "change_request",
        short_description="Patch",
        type="normal",
        state="-1",
        approval="approved",
        on_hold="false",
        start_date=_at(-timedelta(hours=1)),
        end_date=_at(timedelta(hours=1)),
    )
    for region, ids in fleet.instances.items():
        datacenter = sn.add("cmdb_ci_aws_datacenter", name=region, region=region)
        sn.relate(datacenter, account)
        for instance_id in ids:
            vm = sn.add("cmdb_ci_vm_instance", name=instance_id, object_id=instance_id)
            sn.relate(vm, datacenter)
            sn.add("task_ci", task=change, ci_item=vm)
    return change


async def test_a_change_cancelled_before_the_run_starts_stops_it(connected, aws_sr_fleet, moto_aws):
    canceller = sys.modules["snow_test_canceller"]
    fleet = await aws_sr_fleet(us_east_1=2, tags={"Environment": "production"})
    change = _change_for(connected, fleet)
    number = connected.get(change)["number"]
    canceller.TARGET.update(fake=connected, change=change)
    sent_before = len(moto_aws.ssm.commands())

    execution = await fleet.start(change_reference=number)
    done = await fleet.wait(execution["id"])
    targets = await fleet.targets(execution["id"])

    asked = list(canceller.CALLS)
    assert asked == [number, number]  # at the request and at the start
    assert done["status"] == "failed"
    assert done["status_reason"].startswith(
        f"refused when it started: servicenow-cmdb: change {number}: it is in Canceled"
    )
    assert {t["status"] for t in targets} == {"NotSent"}
    assert len(moto_aws.ssm.commands()) == sent_before


async def test_a_gated_run_through_an_approved_change_runs(connected, aws_sr_fleet):
    canceller = sys.modules["snow_test_canceller"]
    fleet = await aws_sr_fleet(us_east_1=1, tags={"Environment": "production"})
    change = _change_for(connected, fleet)
    number = connected.get(change)["number"]
    canceller.TARGET.update(fake=connected, change=connected.add("change_request"))
    refused = await fleet.post(
        "/executions",
        json={"script_id": await fleet.script(), "targets": {"instance_ids": fleet.all_ids()}},
    )

    execution = await fleet.start(change_reference=number)
    done = await fleet.wait(execution["id"])

    assert refused.status_code == 409
    assert (
        f"runs on instances tagged {fleet.all_ids()[0]} ({TAG}) need an approved"
        in (refused.json()["detail"])
    )
    assert done["status"] == "succeeded", done
