"""Outcomes that unfold in time, and outcome rules: the SSM extension behaving like a fleet."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest

from pcm_aws_common.testing import (
    InvocationContext,
    InvocationOutcome,
    ScheduledOutcome,
    TagOutcomes,
)
from pcm_aws_common.testing.outcomes import fake_output, first_line
from pcm_aws_common.testing.ssm import ERROR_MARKER

REGION = "eu-west-1"  # the default accounts have no instances here: each test adds its own
FAST = {"progress_seconds": (0.5, 0.8), "slow_seconds": (1.2, 1.5), "timeout_seconds": 1.0}


@pytest.fixture
def account(moto_aws):
    return moto_aws.account("member")


@pytest.fixture
async def ssm(moto_aws, account, aio_session):
    async with aio_session.create_client(
        "ssm", region_name=REGION, endpoint_url=moto_aws.endpoint_url, **account.credentials
    ) as client:
        yield client


def _add(moto_aws, account, name, outcome=None, *, windows=False):
    tags = {"Name": name}
    if outcome is not None:
        tags["pcm-demo:outcome"] = outcome
    return moto_aws.add_instances(account.account_id, REGION, 1, tags=tags, windows=windows)[0]


async def _send(ssm, instance_ids, commands=("uptime",), document="AWS-RunShellScript", **extra):
    parameters = {"commands": list(commands), **extra}
    response = await ssm.send_command(
        DocumentName=document, Parameters=parameters, InstanceIds=list(instance_ids)
    )
    return response["Command"]["CommandId"]


async def _statuses(ssm, command_id):
    listed = await ssm.list_command_invocations(CommandId=command_id, Details=True)
    return {i["InstanceId"]: i for i in listed["CommandInvocations"]}


async def _wait_until_done(ssm, command_id, seconds=5.0):
    deadline = time.monotonic() + seconds
    while True:
        rows = await _statuses(ssm, command_id)
        if all(row["Status"] not in ("Pending", "InProgress") for row in rows.values()):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"still running after {seconds} s: {rows}")
        await asyncio.sleep(0.1)


def _context(**fields):
    values = {
        "command_id": "c-1",
        "instance_id": "i-0123456789abcdef0",
        "account_id": "222222222222",
        "region": REGION,
        "document_name": "AWS-RunShellScript",
        "commands": "#!/bin/bash\n# disk usage\ndf -h /\n",
        "execution_timeout": None,
        "delivery_timeout": 600,
        "tags": {"Name": "prod-web-01"},
    }
    return InvocationContext(**{**values, **fields})


# -- outcomes in time -------------------------------------------------------------------------


async def test_a_scheduled_outcome_reports_in_progress_until_its_time(ssm, moto_aws, account):
    instance = _add(moto_aws, account, "scheduled")
    moto_aws.ssm.set_default_outcome(status="Success", output="ok\n", after=0.8)

    command_id = await _send(ssm, [instance])
    early = await ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
    summary = (await ssm.list_commands(CommandId=command_id))["Commands"][0]
    await asyncio.sleep(0.9)
    late = await ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
    finished = (await ssm.list_commands(CommandId=command_id))["Commands"][0]

    assert (early["Status"], early["ResponseCode"], summary["Status"]) == (
        "InProgress",
        -1,
        "InProgress",
    )
    assert (late["Status"], late["ResponseCode"], late["StandardOutputContent"]) == (
        "Success",
        0,
        "ok\n",
    )
    assert (finished["Status"], finished["CompletedCount"]) == ("Success", 1)


async def test_a_cancelled_invocation_does_not_reach_its_scheduled_outcome(ssm, moto_aws, account):
    instance = _add(moto_aws, account, "cancelled")
    moto_aws.ssm.set_default_outcome(ScheduledOutcome(InvocationOutcome("Success"), after=0.8))

    command_id = await _send(ssm, [instance])
    await ssm.cancel_command(CommandId=command_id)
    await asyncio.sleep(0.9)

    assert moto_aws.ssm.outcome(command_id, instance).status == "Cancelled"
    assert moto_aws.ssm.pending() == 0


async def test_an_outcome_set_by_a_test_replaces_the_scheduled_one(ssm, moto_aws, account):
    instance = _add(moto_aws, account, "overridden")
    moto_aws.ssm.set_default_outcome(status="Success", after=0.8)

    command_id = await _send(ssm, [instance])
    moto_aws.ssm.set_invocation(command_id, instance, status="Failed", exit_code=4)
    await asyncio.sleep(0.9)

    assert moto_aws.ssm.outcome(command_id, instance).exit_code == 4


def test_a_scheduled_outcome_cannot_be_in_the_past():
    with pytest.raises(ValueError, match="past"):
        ScheduledOutcome(InvocationOutcome(), after=-1)


# -- outcome rules ----------------------------------------------------------------------------


async def test_a_rule_chooses_each_invocations_outcome(ssm, moto_aws, account):
    good, bad = _add(moto_aws, account, "good"), _add(moto_aws, account, "bad")
    seen = []

    def rule(context):
        seen.append((context.instance_id, context.name, context.commands, context.platform))
        status = "Failed" if context.name == "bad" else "Success"
        return InvocationOutcome(status, output=context.name)

    moto_aws.ssm.set_outcome_rule(rule)
    command_id = await _send(ssm, [good, bad], commands=["echo one", "echo two"])

    rows = await _statuses(ssm, command_id)
    assert {i: row["Status"] for i, row in rows.items()} == {good: "Success", bad: "Failed"}
    assert sorted(seen) == sorted(
        [(good, "good", "echo one\necho two", "Linux"), (bad, "bad", "echo one\necho two", "Linux")]
    )


async def test_an_instances_own_outcome_wins_over_the_rule_and_the_rule_over_the_default(
    ssm, moto_aws, account
):
    own, ruled, left = (_add(moto_aws, account, name) for name in ("own", "ruled", "left"))
    moto_aws.ssm.set_default_outcome(status="TimedOut")
    moto_aws.ssm.set_default_outcome(status="Failed", instance_id=own)
    moto_aws.ssm.set_outcome_rule(
        lambda context: InvocationOutcome("Success") if context.name == "ruled" else None
    )

    rows = await _statuses(ssm, await _send(ssm, [own, ruled, left]))

    assert {i: row["Status"] for i, row in rows.items()} == {
        own: "Failed",
        ruled: "Success",
        left: "TimedOut",
    }


async def test_tag_outcomes_give_a_fleet_of_varied_results(ssm, moto_aws, account):
    instances = {
        outcome: _add(moto_aws, account, f"tagged-{outcome}", outcome)
        for outcome in ("success", "fail", "timeout", "slow")
    }
    untagged = _add(moto_aws, account, "untagged")
    moto_aws.ssm.set_outcome_rule(TagOutcomes(seed=3, **FAST))

    command_id = await _send(ssm, [*instances.values(), untagged], commands=["df -h /"])
    running = await _statuses(ssm, command_id)
    rows = await _wait_until_done(ssm, command_id)

    assert {row["Status"] for row in running.values()} == {"InProgress"}
    assert {i: row["Status"] for i, row in rows.items()} == {
        instances["success"]: "Success",
        instances["fail"]: "Failed",
        instances["timeout"]: "TimedOut",
        instances["slow"]: "Success",
        untagged: "Success",
    }
    failed = rows[instances["fail"]]["CommandPlugins"][0]
    assert failed["ResponseCode"] == 1
    assert f"\n{ERROR_MARKER}\ndf -h /: " in failed["Output"]
    assert failed["Output"].endswith("failed to run commands: exit status 1")
    done = await ssm.get_command_invocation(CommandId=command_id, InstanceId=untagged)
    assert done["StandardOutputContent"].startswith("[root@untagged ~]# df -h /\nFilesystem")


async def test_a_timeout_comes_with_the_commands_execution_timeout_when_that_is_shorter(
    ssm, moto_aws, account
):
    instance = _add(moto_aws, account, "times-out", "timeout")
    moto_aws.ssm.set_outcome_rule(TagOutcomes(timeout_seconds=60))

    command_id = await _send(ssm, [instance], executionTimeout=["1"])
    started = time.monotonic()
    rows = await _wait_until_done(ssm, command_id, seconds=4)

    assert rows[instance]["Status"] == "TimedOut"
    assert rows[instance]["StatusDetails"] == "ExecutionTimedOut"
    assert 0.9 <= time.monotonic() - started < 3


async def test_an_instance_that_lost_its_agent_ends_undeliverable(ssm, moto_aws, account):
    instance = _add(moto_aws, account, "lost")
    moto_aws.ssm.set_ping_status(instance, "ConnectionLost")
    moto_aws.ssm.set_outcome_rule(TagOutcomes(**FAST))

    command_id = await _send(ssm, [instance])
    pending = (await _statuses(ssm, command_id))[instance]["Status"]
    rows = await _wait_until_done(ssm, command_id)

    assert (pending, rows[instance]["Status"]) == ("Pending", "Undeliverable")


async def test_a_script_for_the_other_platform_fails(ssm, moto_aws, account):
    linux = _add(moto_aws, account, "linux")
    moto_aws.ssm.set_outcome_rule(TagOutcomes(**FAST))

    command_id = await _send(
        ssm, [linux], commands=["Get-Service"], document="AWS-RunPowerShellScript"
    )
    rows = await _wait_until_done(ssm, command_id)

    plugin = rows[linux]["CommandPlugins"][0]
    assert (rows[linux]["Status"], plugin["ResponseCode"]) == ("Failed", 127)
    assert "pwsh: command not found" in plugin["Output"]


async def test_a_script_can_ask_for_output_longer_than_aws_returns(ssm, moto_aws, account):
    instance = _add(moto_aws, account, "noisy", "success")
    moto_aws.ssm.set_outcome_rule(TagOutcomes(**FAST))

    command_id = await _send(ssm, [instance], commands=["# pcm-demo:output-lines=400", "run"])
    await _wait_until_done(ssm, command_id)
    invocation = await ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)

    assert len(moto_aws.ssm.outcome(command_id, instance).output) > 24_000
    assert len(invocation["StandardOutputContent"]) == 24_000


async def test_the_control_api_installs_the_tag_rule(ssm, moto_aws, account):
    instance = _add(moto_aws, account, "over-http", "fail")

    def post(path, body):
        request = urllib.request.Request(
            f"{moto_aws.endpoint_url}/pcm-moto/{path}",
            method="POST",
            data=json.dumps(body).encode(),
        )
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    post("ssm/outcome-rule", {"rule": "tags", "seed": 1, "progress_seconds": [0.1, 0.2]})
    rows = await _wait_until_done(ssm, await _send(ssm, [instance]))
    post("ssm/outcome-rule", {"rule": None})
    plain = await _statuses(ssm, await _send(ssm, [instance]))

    assert rows[instance]["Status"] == "Failed"
    assert plain[instance]["Status"] == "Success"


# -- TagOutcomes on its own -------------------------------------------------------------------


def test_tag_outcomes_are_the_same_for_the_same_command_and_instance():
    rule = TagOutcomes(seed=5)

    first, again = rule(_context()), rule(_context())
    other_seed = TagOutcomes(seed=6)(_context())

    assert first == again
    assert 2.0 <= first.after <= 8.0
    assert other_seed.after != first.after


def test_random_draws_vary_across_instances_but_stay_mostly_successful():
    rule = TagOutcomes(seed=1)
    kinds = [
        rule.kind_of(_context(instance_id=f"i-{n:017x}", tags={"pcm-demo:outcome": "random"}))
        for n in range(200)
    ]

    assert set(kinds) == {"success", "fail", "timeout", "slow"}
    assert kinds.count("success") > 100


def test_tag_values_are_read_case_insensitively_and_unknown_ones_mean_untagged():
    rule = TagOutcomes(untagged="fail")

    assert rule.kind_of(_context(tags={"pcm-demo:outcome": " Timeout "})) == "timeout"
    assert rule.kind_of(_context(tags={"pcm-demo:outcome": "explode"})) == "fail"
    with pytest.raises(ValueError, match="untagged"):
        TagOutcomes(untagged="explode")


def test_output_echoes_the_first_line_and_names_the_host():
    import random

    windows = _context(
        document_name="AWS-RunPowerShellScript",
        commands="\n# patches\nGet-HotFix | Select -First 5\n",
        tags={"Name": "win-app-02"},
    )

    shell = fake_output(_context(), random.Random(0))
    powershell = fake_output(windows, random.Random(0))

    assert first_line("#!/bin/sh\n\n  df -h  \n") == "df -h"
    assert first_line("export service='nginx'\nLIMIT=3\n$env:x = 'y'\nuptime") == "uptime"
    assert shell.startswith("[root@prod-web-01 ~]# df -h /\nFilesystem")
    assert shell.endswith("prod-web-01: done\n")
    assert powershell.startswith("PS C:\\Users\\Administrator> Get-HotFix | Select -First 5\n")
    assert "ComputerName : win-app-02" in powershell
