"""The sync job against moto over HTTP: EC2 and SSM joined, tags kept, one account-region's
failure recorded while the others succeed, instances that went away removed, GovCloud."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

sqlite_only = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def _by_id(fleet: Any, **params: Any) -> dict[str, dict[str, Any]]:
    page = await fleet.instances(limit=500, **params)
    return {item["instance_id"]: item for item in page["items"]}


async def test_a_sync_joins_ec2_and_ssm_data_per_instance(fleet: Any) -> None:
    account = await fleet.add_account(regions=("us-east-1", "eu-west-1"))
    [web] = await fleet.add_instances(account, "us-east-1", tags={"Name": "web-1", "env": "prod"})
    [win] = await fleet.add_instances(account, "eu-west-1", windows=True, tags={"Name": "dc"})
    [lost, dark] = await fleet.add_instances(account, "us-east-1", 2)
    fleet.moto.ssm.set_ping_status(lost, "ConnectionLost")
    fleet.moto.ssm.set_managed(dark, False)

    job = await fleet.sync()

    found = await _by_id(fleet, account_id=account)
    assert job["state"] == "succeeded", job
    assert set(found) == {web, win, lost, dark}
    assert found[web] | {"tags": None} == found[web] | {
        "account_id": account,
        "region": "us-east-1",
        "name": "web-1",
        "state": "running",
        "platform": "Linux",
        "instance_type": "t3.micro",
        "ssm_managed": True,
        "ping_status": "Online",
        "agent_version": "3.3.1142.0",
        "tags": None,
    }
    assert found[web]["tags"] == {"Name": "web-1", "env": "prod"}
    assert found[web]["private_ip"].count(".") == 3
    assert (found[win]["platform"], found[win]["region"], found[win]["name"]) == (
        "Windows",
        "eu-west-1",
        "dc",
    )
    assert found[lost]["ping_status"] == "ConnectionLost"
    assert (found[dark]["ssm_managed"], found[dark]["ping_status"]) == (False, "NotManaged")
    assert found[dark]["agent_version"] == ""


async def test_ssm_is_read_in_pages_of_fifty(fleet: Any) -> None:
    account = await fleet.add_account()
    await fleet.add_instances(account, "us-east-1", 120)
    before = fleet.moto.requests("ssm", "DescribeInstanceInformation")

    await fleet.sync([(account, "us-east-1")])

    assert fleet.moto.requests("ssm", "DescribeInstanceInformation") - before == 3
    assert (await fleet.instances(account_id=account, limit=1))["total"] == 120


async def test_a_failing_account_region_is_shown_while_the_others_sync(fleet: Any) -> None:
    good = await fleet.add_account(regions=("us-east-1", "us-west-2"))
    broken = await fleet.add_account(role="NoSuchRole")
    await fleet.add_instances(good, "us-east-1", 2)
    await fleet.add_instances(good, "us-west-2", 1)
    await fleet.add_instances(broken, "us-east-1", 1)

    job = await fleet.sync([(good, "us-east-1"), (good, "us-west-2"), (broken, "us-east-1")])
    status = (await fleet.request("GET", "/inventory/status")).json()

    assert job["state"] == "succeeded"
    assert job["result"]["synced"] == 2
    assert job["result"]["failed"] == 1
    states = {(s["account_id"], s["region"]): s for s in status["account_regions"]}
    assert states[(good, "us-east-1")]["status"] == "ok"
    assert states[(good, "us-west-2")]["instance_count"] == 1
    assert states[(broken, "us-east-1")]["status"] == "error"
    assert "NoSuchRole" in states[(broken, "us-east-1")]["error"]
    assert [(e["account_id"], e["region"]) for e in status["errors"]] == [(broken, "us-east-1")]
    assert (await fleet.instances(account_id=good))["total"] == 3


async def test_a_sync_where_everything_fails_is_a_failed_job(fleet: Any) -> None:
    broken = await fleet.add_account(role="NoSuchRole")

    job = await fleet.sync([(broken, "us-east-1")])

    assert job["state"] == "failed"
    assert "every account-region failed" in job["error"]


async def test_a_resync_updates_tags_and_removes_instances_that_went_away(fleet: Any) -> None:
    from sqlmodel import select

    from pcm_aws_script_runner.models import AwsSrInstanceTag

    account = await fleet.add_account()
    [kept, stopped, gone] = await fleet.add_instances(
        account, "us-east-1", 3, tags={"team": "a", "Name": "box"}
    )
    await fleet.sync([(account, "us-east-1")])
    ec2 = fleet.moto.harness_client("ec2", account, "us-east-1")
    ec2.create_tags(Resources=[kept], Tags=[{"Key": "team", "Value": "b"}])
    ec2.delete_tags(Resources=[kept], Tags=[{"Key": "Name"}])
    fleet.moto.stop_instances(account, "us-east-1", [stopped])
    ec2.terminate_instances(InstanceIds=[gone])

    await fleet.sync([(account, "us-east-1")])

    found = await _by_id(fleet, account_id=account)
    assert set(found) == {kept, stopped}
    assert (found[kept]["tags"], found[kept]["name"]) == ({"team": "b"}, "")
    assert found[stopped]["state"] == "stopped"
    assert set(await _by_id(fleet, account_id=account, tag="team=a")) == {stopped}
    assert set(await _by_id(fleet, account_id=account, tag="Name")) == {stopped}
    async with fleet.database.session() as session:
        tags = (await session.exec(select(AwsSrInstanceTag))).all()
    assert len(tags) == len({(t.instance_pk, t.key) for t in tags})  # no stale duplicates
    assert sum(t.value == "b" for t in tags) >= 1


async def test_a_full_sync_covers_every_registry_account_and_partition(fleet: Any) -> None:
    commercial = await fleet.add_account()
    gov = await fleet.add_account(partition="aws-us-gov", regions=("us-gov-west-1",))
    [c] = await fleet.add_instances(commercial, "us-east-1")
    [g] = await fleet.add_instances(gov, "us-gov-west-1")

    job = await fleet.sync()

    assert job["state"] == "succeeded", job
    assert set(await _by_id(fleet, account_id=commercial)) == {c}
    found = await _by_id(fleet, account_id=gov)
    assert set(found) == {g}
    assert found[g]["region"] == "us-gov-west-1"


async def test_a_full_sync_forgets_accounts_removed_from_the_registry(fleet: Any) -> None:
    leaving = await fleet.add_account()
    await fleet.add_instances(leaving, "us-east-1", 2)
    await fleet.sync()
    assert (await fleet.instances(account_id=leaving))["total"] == 2
    removed = await fleet.client.delete(
        f"/api/tools/aws/common/accounts/{leaving}", headers=await fleet.auth("admin")
    )
    assert removed.status_code == 204

    job = await fleet.sync()

    assert [leaving, "us-east-1"] in job["result"]["forgotten"]
    assert (await fleet.instances(account_id=leaving))["total"] == 0
    status = (await fleet.request("GET", "/inventory/status")).json()
    assert leaving not in {s["account_id"] for s in status["account_regions"]}


@sqlite_only
async def test_progress_is_published_to_the_job_and_the_inventory_stream(fleet: Any) -> None:
    from pcm_ops.jobs.events import read_events

    account = await fleet.add_account()
    await fleet.add_instances(account, "us-east-1")

    job = await fleet.sync([(account, "us-east-1")])

    engine = fleet.app.state.database.engine
    job_events = [e.type for e in await read_events(engine, f"job:{job['id']}")]
    stream = await read_events(engine, "aws-script-runner:inventory")
    assert job_events == [
        "sync.started",
        "account_region.synced",
        "sync.finished",
    ]
    assert [e.type for e in stream][-1] == "sync.finished"
    assert stream[-1].data["job_id"] == job["id"]
    assert stream[-1].data["instances"] == 1


@sqlite_only
async def test_a_sync_of_an_account_the_registry_does_not_know_is_refused(fleet: Any) -> None:
    known = await fleet.add_account()

    response = await fleet.request(
        "POST",
        "/inventory/sync",
        json={
            "account_regions": [
                {"account_id": known, "region": "eu-north-1"},
                {"account_id": "123456789012", "region": "us-east-1"},
                {"account_id": "12345", "region": "us-east-1"},
            ]
        },
    )

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "account_regions[2].account_id"]
    ]
    second = await fleet.request(
        "POST",
        "/inventory/sync",
        json={
            "account_regions": [
                {"account_id": known, "region": "eu-north-1"},
                {"account_id": "123456789012", "region": "us-east-1"},
            ]
        },
    )
    assert second.status_code == 422
    assert [(e["loc"][1], e["msg"]) for e in second.json()["detail"]] == [
        ("account_regions[0].region", f"region eu-north-1 is not enabled for account {known}"),
        (
            "account_regions[1].account_id",
            "account 123456789012 is not in the accounts registry",
        ),
    ]


@sqlite_only
async def test_viewers_browse_but_may_not_sync(fleet: Any) -> None:
    browse = await fleet.request("GET", "/inventory/instances", "viewer")
    status = await fleet.request("GET", "/inventory/status", "viewer")
    sync = await fleet.request("POST", "/inventory/sync", "viewer")
    operator = await fleet.request("POST", "/inventory/sync", "operator")

    assert (browse.status_code, status.status_code) == (200, 200)
    assert sync.status_code == 403
    assert operator.status_code == 202


@sqlite_only
async def test_the_scheduled_sync_is_declared_every_thirty_minutes(fleet: Any) -> None:
    from dbos import DBOS

    schedules = {s["schedule_name"]: s for s in DBOS.list_schedules()}

    schedule = schedules["aws-script-runner:inventory-sync"]
    assert schedule["schedule"] == "*/30 * * * *"
    assert schedule["workflow_name"] == "aws-script-runner.inventory_sync_scheduled"
    assert schedule["queue_name"] == "aws-script-runner.inventory"
    status = (await fleet.request("GET", "/inventory/status")).json()
    assert status["schedule"] == "*/30 * * * *"


@sqlite_only
async def test_the_scheduled_workflow_syncs_everything(fleet: Any) -> None:
    import anyio.to_thread
    from dbos import DBOS

    from pcm_aws_script_runner.jobs.inventory import inventory_sync_scheduled

    account = await fleet.add_account()
    [instance] = await fleet.add_instances(account, "us-east-1")

    # What DBOS does when the schedule fires, without waiting for the clock.
    handle = await anyio.to_thread.run_sync(
        lambda: DBOS.start_workflow(inventory_sync_scheduled, datetime.now(UTC), None)
    )
    result = await anyio.to_thread.run_sync(handle.get_result)

    assert result["failed"] == 0
    assert instance in await _by_id(fleet, account_id=account)
