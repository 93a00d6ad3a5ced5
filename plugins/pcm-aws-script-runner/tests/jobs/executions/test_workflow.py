"""Executions through the API against moto over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")


async def test_120_instances_in_3_account_regions_take_one_send_command_each(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=40, us_west_2=40, eu_west_1=40)
    sends = moto_aws.requests("ssm", "SendCommand")
    gets = moto_aws.requests("ssm", "GetCommandInvocation")

    execution = await fleet.start(
        parameters={"who": "ops", "token": "s3cr3t"}, max_concurrency="100%"
    )
    done = await fleet.wait(execution["id"])

    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 120}
    assert moto_aws.requests("ssm", "SendCommand") - sends == 3
    assert moto_aws.requests("ssm", "GetCommandInvocation") - gets == 0
    assert sorted(b["instances"] for b in done["batches"]) == [40, 40, 40]
    assert {(b["account_id"], b["region"]) for b in done["batches"]} == {
        (fleet.account_id, r) for r in ("us-east-1", "us-west-2", "eu-west-1")
    }
    assert done["parameters"] == {"who": "ops", "token": "********"}
    targets = await fleet.targets(execution["id"])
    assert len(targets) == 120
    assert {t["status"] for t in targets} == {"Success"}
    assert all(t["exit_code"] == 0 for t in targets)


async def test_max_errors_stops_further_batches(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=10, us_west_2=10, eu_west_1=10)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed", error="disk full", exit_code=3))
    sends = moto_aws.requests("ssm", "SendCommand")

    # One batch of 10 at a time; the first one's 10 failures exceed max errors 2.
    execution = await fleet.start(max_concurrency=10, max_errors=2)
    done = await fleet.wait(execution["id"])

    assert moto_aws.requests("ssm", "SendCommand") - sends == 1
    assert done["status"] == "failed"
    assert "max errors (2) exceeded" in done["status_reason"]
    assert done["counts"] == {"Failed": 10, "NotSent": 20}
    assert sorted(b["status"] for b in done["batches"]) == ["finished", "not_sent", "not_sent"]
    failed = [t for t in await fleet.targets(execution["id"]) if t["status"] == "Failed"]
    assert {t["exit_code"] for t in failed} == {3}
    assert {t["stderr"] for t in failed} == {"disk full"}


async def test_a_percentage_max_errors_lets_the_run_go_on(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=10, us_west_2=10)
    bad = fleet.instances["us-east-1"][0]
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed"), instance_id=bad)

    execution = await fleet.start(max_concurrency=10, max_errors="10%")
    done = await fleet.wait(execution["id"])

    assert done["counts"] == {"Success": 19, "Failed": 1}
    assert done["status"] == "failed"
    assert {b["status"] for b in done["batches"]} == {"finished"}


async def test_cancel_sends_cancel_command_and_holds_the_batches_not_sent(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=5, us_west_2=5, eu_west_1=5)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    cancels = moto_aws.requests("ssm", "CancelCommand")

    execution = await fleet.start(max_concurrency=5)
    await _wait_for_sent(fleet, execution["id"], 1)
    response = await fleet.post(f"/executions/{execution['id']}/cancel")
    assert response.status_code == 202, response.text
    done = await fleet.wait(execution["id"])

    assert done["status"] == "cancelled"
    assert done["cancel_requested_by"].startswith("pytest-operator")
    assert moto_aws.requests("ssm", "CancelCommand") - cancels == 1
    assert done["counts"] == {"Cancelled": 5, "NotSent": 10}
    again = await fleet.post(f"/executions/{execution['id']}/cancel")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]


async def _wait_for_sent(fleet, execution_id: int, count: int) -> dict[str, Any]:
    import asyncio

    for _ in range(600):
        body = {
            **(await fleet.get(f"/executions/{execution_id}")).json(),
            "batches": await fleet.batches(execution_id),
        }
        if sum(b["status"] == "sent" for b in body["batches"]) >= count:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"no batch was sent: {body}")


async def test_truncated_output_is_marked_and_fetched_with_get_command_invocation(
    make_fleet, moto_aws
):
    fleet = await make_fleet(us_east_1=3)
    long_one, short_one, _ = fleet.instances["us-east-1"]
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Success", output="x" * 30_000), instance_id=long_one
    )
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Success", output="y" * 3_000), instance_id=short_one
    )
    gets = moto_aws.requests("ssm", "GetCommandInvocation")

    execution = await fleet.start(output_s3_bucket="ops-output", output_s3_prefix="runs")
    await fleet.wait(execution["id"])

    assert moto_aws.requests("ssm", "GetCommandInvocation") - gets == 2
    targets = {t["instance_id"]: t for t in await fleet.targets(execution["id"])}
    assert targets[long_one]["stdout_truncated"] is True
    assert len(targets[long_one]["stdout"]) == 24_000
    assert targets[long_one]["output_url"].startswith("s3://ops-output/runs/")
    assert targets[short_one]["stdout_truncated"] is False
    assert targets[short_one]["stdout"] == "y" * 3_000
    assert all(not t["stdout_truncated"] for i, t in targets.items() if i != long_one)
