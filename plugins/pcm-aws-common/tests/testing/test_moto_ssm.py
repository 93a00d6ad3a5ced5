"""The SSM extension of the moto server: what moto lacks, as AWS does it."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from pcm_aws_common.testing import InvocationOutcome

REGION = "us-west-2"  # the default accounts have no instances here: each test adds its own


@pytest.fixture
def account(moto_aws):
    return moto_aws.account("member")


@pytest.fixture
async def ssm(moto_aws, account, aio_session):
    async with aio_session.create_client(
        "ssm", region_name=REGION, endpoint_url=moto_aws.endpoint_url, **account.credentials
    ) as client:
        yield client


@pytest.fixture
def instances(moto_aws, account):
    """Three fresh running instances of this test, tagged with its own tag."""
    return moto_aws.add_instances(account.account_id, REGION, 3, tags={"test": _unique()})


def _unique() -> str:
    import uuid

    return uuid.uuid4().hex[:8]


async def _send(ssm, **targets):
    response = await ssm.send_command(
        DocumentName="AWS-RunShellScript", Parameters={"commands": ["uptime"]}, **targets
    )
    return response["Command"]


async def test_send_command_runs_only_on_the_instances_named(ssm, instances):
    command = await _send(ssm, InstanceIds=instances[:2])

    listed = await ssm.list_command_invocations(CommandId=command["CommandId"])

    assert command["InstanceIds"] == instances[:2]
    assert sorted(i["InstanceId"] for i in listed["CommandInvocations"]) == sorted(instances[:2])


async def test_send_command_resolves_instance_and_tag_targets(ssm, moto_aws, account, instances):
    tag = _unique()
    tagged = moto_aws.add_instances(account.account_id, REGION, 2, tags={"role": tag})

    by_tag = await _send(ssm, Targets=[{"Key": "tag:role", "Values": [tag]}])
    by_ids = await _send(ssm, Targets=[{"Key": "InstanceIds", "Values": instances[2:]}])

    assert sorted(by_tag["InstanceIds"]) == sorted(tagged)
    assert by_ids["InstanceIds"] == instances[2:]
    assert by_tag["Targets"] == [{"Key": "tag:role", "Values": [tag]}]


async def test_send_command_refuses_more_than_fifty_instances(ssm):
    with pytest.raises(ClientError) as refused:
        await _send(ssm, InstanceIds=[f"i-{n:017x}" for n in range(51)])

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 50" in refused.value.response["Error"]["Message"]


async def test_send_command_refuses_instances_without_the_agent(ssm, moto_aws, account, instances):
    moto_aws.ssm.set_managed(instances[0], False)
    stopped = moto_aws.add_instances(account.account_id, REGION, 1)
    moto_aws.stop_instances(account.account_id, REGION, stopped)

    for chosen in ([instances[0]], stopped):
        with pytest.raises(ClientError) as refused:
            await _send(ssm, InstanceIds=chosen)
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidInstanceId"
        assert error["Message"] == (
            f"Instances [[{chosen[0]}]] not in a valid state for account {account.account_id}"
        )


async def test_invocations_report_the_outcome_set_for_them(ssm, moto_aws, instances):
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    command = await _send(ssm, InstanceIds=instances[:2])
    command_id = command["CommandId"]
    first, second = instances[:2]

    running = await ssm.get_command_invocation(CommandId=command_id, InstanceId=first)
    moto_aws.ssm.set_invocation(command_id, first, InvocationOutcome("Success", output="ok\n"))
    moto_aws.ssm.set_invocation(command_id, second, status="Failed", output="boom", exit_code=3)
    done = await ssm.get_command_invocation(CommandId=command_id, InstanceId=first)
    failed = await ssm.get_command_invocation(CommandId=command_id, InstanceId=second)
    summary = (await ssm.list_commands(CommandId=command_id))["Commands"][0]

    assert (command["Status"], running["Status"], running["ResponseCode"]) == (
        "InProgress",
        "InProgress",
        -1,
    )
    assert (done["Status"], done["ResponseCode"], done["StandardOutputContent"]) == (
        "Success",
        0,
        "ok\n",
    )
    assert (failed["Status"], failed["StatusDetails"], failed["ResponseCode"]) == (
        "Failed",
        "Failed",
        3,
    )
    assert (summary["Status"], summary["CompletedCount"], summary["ErrorCount"]) == ("Failed", 2, 1)


async def test_outcomes_can_be_set_per_instance_before_sending(ssm, moto_aws, instances):
    moto_aws.ssm.set_default_outcome(status="Success", output="fine")
    moto_aws.ssm.set_default_outcome(status="TimedOut", instance_id=instances[1])

    command = await _send(ssm, InstanceIds=instances[:2])
    listed = await ssm.list_command_invocations(CommandId=command["CommandId"])

    statuses = {
        i["InstanceId"]: (i["Status"], i["StatusDetails"]) for i in listed["CommandInvocations"]
    }
    assert statuses == {
        instances[0]: ("Success", "Success"),
        instances[1]: ("TimedOut", "ExecutionTimedOut"),
    }


async def test_list_command_invocations_pages_and_gives_details(ssm, moto_aws, instances):
    moto_aws.ssm.set_default_outcome(status="Success", output="x" * 3000)
    command = await _send(ssm, InstanceIds=instances)

    first = await ssm.list_command_invocations(
        CommandId=command["CommandId"], MaxResults=2, Details=True
    )
    rest = await ssm.list_command_invocations(
        CommandId=command["CommandId"], MaxResults=2, Details=True, NextToken=first["NextToken"]
    )
    without = await ssm.list_command_invocations(CommandId=command["CommandId"])

    assert len(first["CommandInvocations"]) == 2
    assert "NextToken" not in rest
    invocations = first["CommandInvocations"] + rest["CommandInvocations"]
    assert sorted(i["InstanceId"] for i in invocations) == sorted(instances)
    plugin = invocations[0]["CommandPlugins"][0]
    assert (plugin["Name"], plugin["Status"], plugin["ResponseCode"]) == (
        "aws:runShellScript",
        "Success",
        0,
    )
    assert len(plugin["Output"]) == 2500  # AWS's limit for this call
    assert without["CommandInvocations"][0]["CommandPlugins"] == []


async def test_list_command_invocations_filters_and_refuses_big_pages(ssm, moto_aws, instances):
    moto_aws.ssm.set_default_outcome(status="InProgress")
    command = await _send(ssm, InstanceIds=instances[:2])
    moto_aws.ssm.set_invocation(command["CommandId"], instances[0], status="Success")

    succeeded = await ssm.list_command_invocations(
        CommandId=command["CommandId"], Filters=[{"key": "Status", "value": "Success"}]
    )
    one = await ssm.list_command_invocations(
        CommandId=command["CommandId"], InstanceId=instances[1]
    )
    with pytest.raises(ClientError) as refused:
        await ssm.list_command_invocations(CommandId=command["CommandId"], MaxResults=51)

    assert [i["InstanceId"] for i in succeeded["CommandInvocations"]] == [instances[0]]
    assert [i["InstanceId"] for i in one["CommandInvocations"]] == [instances[1]]
    assert refused.value.response["Error"]["Code"] == "ValidationException"


async def test_get_command_invocation_truncates_output_as_aws_does(ssm, moto_aws, instances):
    command = await _send(ssm, InstanceIds=instances[:1])
    moto_aws.ssm.set_invocation(command["CommandId"], instances[0], output="y" * 30_000)

    invocation = await ssm.get_command_invocation(
        CommandId=command["CommandId"], InstanceId=instances[0]
    )

    assert len(invocation["StandardOutputContent"]) == 24_000
    assert len(moto_aws.ssm.outcome(command["CommandId"], instances[0]).output) == 30_000


async def test_cancel_command_cancels_what_is_still_running(ssm, moto_aws, instances):
    moto_aws.ssm.set_default_outcome(status="InProgress")
    command = await _send(ssm, InstanceIds=instances)
    moto_aws.ssm.set_invocation(command["CommandId"], instances[0], status="Success")

    await ssm.cancel_command(CommandId=command["CommandId"], InstanceIds=instances[1:2])
    partly = await ssm.list_command_invocations(CommandId=command["CommandId"])
    await ssm.cancel_command(CommandId=command["CommandId"])
    summary = (await ssm.list_commands(CommandId=command["CommandId"]))["Commands"][0]

    statuses = {i["InstanceId"]: i["Status"] for i in partly["CommandInvocations"]}
    assert statuses == {
        instances[0]: "Success",
        instances[1]: "Cancelled",
        instances[2]: "InProgress",
    }
    assert summary["Status"] == "Cancelled"
    with pytest.raises(ClientError) as unknown:
        await ssm.cancel_command(CommandId="11111111-2222-3333-4444-555555555555")
    assert unknown.value.response["Error"]["Code"] == "InvalidCommandId"


async def test_describe_instance_information_lists_running_managed_instances(
    ssm, moto_aws, account, instances
):
    moto_aws.ssm.set_managed(instances[0], False)
    moto_aws.ssm.set_ping_status(instances[1], "ConnectionLost")
    windows = moto_aws.add_instances(account.account_id, REGION, 1, windows=True)

    described = await ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [*instances, *windows]}]
    )
    lost = await ssm.describe_instance_information(
        InstanceInformationFilterList=[{"key": "PingStatus", "valueSet": ["ConnectionLost"]}]
    )
    paged = await ssm.describe_instance_information(MaxResults=5)

    info = {i["InstanceId"]: i for i in described["InstanceInformationList"]}
    assert sorted(info) == sorted([*instances[1:], *windows])
    assert info[instances[1]]["PingStatus"] == "ConnectionLost"
    assert (info[windows[0]]["PlatformType"], info[instances[2]]["PlatformType"]) == (
        "Windows",
        "Linux",
    )
    assert info[instances[2]]["ResourceType"] == "EC2Instance"
    assert [i["InstanceId"] for i in lost["InstanceInformationList"]] == [instances[1]]
    assert len(paged["InstanceInformationList"]) == 5
    assert paged.get("NextToken")


async def test_the_control_api_drives_the_extension_over_http(ssm, moto_aws, instances):
    command = await _send(ssm, InstanceIds=instances[:1])

    def call(method, path, body=None):
        request = urllib.request.Request(
            f"{moto_aws.endpoint_url}/pcm-moto/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
        )
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    call(
        "POST",
        "ssm/invocation",
        {
            "command_id": command["CommandId"],
            "instance_id": instances[0],
            "status": "Failed",
            "output": "no",
            "exit_code": 7,
        },
    )
    invocations = call("GET", f"ssm/commands/{command['CommandId']}")
    invocation = await ssm.get_command_invocation(
        CommandId=command["CommandId"], InstanceId=instances[0]
    )

    assert invocations == [
        {
            "instance_id": instances[0],
            "status": "Failed",
            "status_details": "Failed",
            "exit_code": 7,
            "output": "no",
            "error": "",
        }
    ]
    assert (invocation["Status"], invocation["ResponseCode"]) == ("Failed", 7)
    assert call("GET", "requests")["ssm.SendCommand"] >= 1


async def test_answers_written_directly_parse_as_motos_serializer_writes_them(
    ssm, moto_aws, instances, monkeypatch
):
    """SendCommand, ListCommandInvocations and DescribeInstanceInformation are written
    without moto's (slow) serializer: a client must read the same answer either way."""
    from moto.core.responses import ActionResult

    from pcm_aws_common.testing import ssm as extension

    moto_aws.ssm.set_default_outcome(status="InProgress")
    moto_aws.ssm.set_default_outcome(
        status="Failed", output="out\n", error="err\n", exit_code=2, instance_id=instances[0]
    )
    moto_aws.ssm.set_default_outcome(status="Success", output="fine", instance_id=instances[1])
    sent = {
        "InstanceIds": instances,
        "Comment": "compare",
        "TimeoutSeconds": 120,
        "OutputS3BucketName": "bucket-of-output",
        "OutputS3KeyPrefix": "runs/",
    }

    async def answers() -> list[dict]:
        command = await _send(ssm, **sent)
        return [
            {"Command": command},
            await ssm.list_command_invocations(CommandId=command["CommandId"], Details=True),
            await ssm.list_command_invocations(CommandId=command["CommandId"], MaxResults=2),
            await ssm.describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": instances}]
            ),
        ]

    direct = await answers()
    monkeypatch.setattr(extension, "json_answer", ActionResult)
    serialized = await answers()

    assert _stable(direct) == _stable(serialized)
    plugin = direct[1]["CommandInvocations"][0]["CommandPlugins"][0]
    requested = direct[0]["Command"]["RequestedDateTime"]
    assert abs(requested - datetime.now(UTC)) < timedelta(minutes=1)  # epoch seconds, UTC
    assert requested <= plugin["ResponseFinishDateTime"] <= datetime.now(UTC)
    assert direct[2]["NextToken"] == "2"


def _stable(value):
    """``value`` with what differs between two sends (ids, clocks) replaced by its type."""
    volatile = {
        "CommandId",
        "RequestedDateTime",
        "ExpiresAfter",
        "ResponseStartDateTime",
        "ResponseFinishDateTime",
        "LastPingDateTime",
    }
    if isinstance(value, dict):
        return {
            key: type(item).__name__ if key in volatile else _stable(item)
            for key, item in value.items()
            if key != "ResponseMetadata"
        }
    if isinstance(value, list):
        return [_stable(item) for item in value]
    return value
