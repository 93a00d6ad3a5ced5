"""The execution's counts per status are kept by each step as it changes targets (no
recount of every target per batch), and always equal a count of the targets themselves:
after a run with results, failures, a refused batch and held batches, and after a cancel.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")


async def recount(fleet: Any, execution_id: int) -> dict[str, int]:
    return dict(Counter(t["status"] for t in await fleet.targets(execution_id)))


async def test_counts_equal_a_recount_after_failures_a_refusal_and_held_batches(
    make_fleet, moto_aws
):
    fleet = await make_fleet(us_east_1=10, us_west_2=10, eu_west_1=10)
    bad = fleet.instances["us-east-1"][0]
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed", exit_code=2), instance_id=bad)
    # SSM refuses eu-west-1's batch (InvalidInstanceId): Undeliverable.
    moto_aws.stop_instances(fleet.account_id, "eu-west-1", fleet.instances["eu-west-1"])

    # One batch at a time, eu-west-1 first: 10 errors are allowed, the 11th (us-east-1's
    # failure) holds us-west-2's batch.
    execution = await fleet.start(max_concurrency=10, max_errors=10)
    done = await fleet.wait(execution["id"])

    expected = {"Undeliverable": 10, "Success": 9, "Failed": 1, "NotSent": 10}
    assert done["counts"] == expected, done
    assert await recount(fleet, execution["id"]) == expected
    assert sorted(b["status"] for b in done["batches"]) == ["failed", "finished", "not_sent"]


async def test_counts_equal_a_recount_after_a_cancel(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=5, us_west_2=5, eu_west_1=5)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))

    execution = await fleet.start(max_concurrency=5)
    for _ in range(600):
        counts = (await fleet.get(f"/executions/{execution['id']}")).json()["counts"]
        if counts.get("InProgress"):
            break
        await asyncio.sleep(0.05)
    # While it runs, too: the stored counts are those of the targets.
    assert counts == await recount(fleet, execution["id"]) == {"InProgress": 5, "Pending": 10}
    response = await fleet.post(f"/executions/{execution['id']}/cancel")
    assert response.status_code == 202, response.text
    done = await fleet.wait(execution["id"])

    assert done["counts"] == {"Cancelled": 5, "NotSent": 10}
    assert await recount(fleet, execution["id"]) == done["counts"]
