"""An execution survives its worker: killed with SIGKILL mid-execution, the worker comes
back under the same executor id and finishes the run without sending any batch twice, also
when it died between ``SendCommand`` and recording it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

#: As in conftest.py: quick polls and a quick job engine.
FAST = {
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.05",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.2",
}
FAST_JOBS = {
    "jobs_queue_poll_seconds": 0.05,
    "jobs_heartbeat_seconds": 0.5,
    "jobs_event_poll_seconds": 0.1,
}


@pytest.fixture
def pcm_settings(
    make_pcm_settings: Callable[..., Any], moto_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The server only enqueues: a worker process runs the executions."""
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    # Core's ``pcm_workers`` pass these settings and variables on to the workers.
    return make_pcm_settings(jobs_execute_in_server=False, **FAST_JOBS)


async def test_a_worker_killed_mid_execution_resumes_without_sending_a_batch_twice(
    make_fleet, moto_aws, pcm_workers
):
    fleet = await make_fleet(us_east_1=10, us_west_2=10, eu_west_1=10)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    sends = moto_aws.requests("ssm", "SendCommand")
    worker = pcm_workers.start("worker-1")

    execution = await fleet.start(max_concurrency=10)
    body = await _sent(fleet, execution["id"], 1)
    pcm_workers.kill(worker)  # batch 1 sent and running; batches 2 and 3 not sent yet
    first = next(b for b in body["batches"] if b["status"] == "sent")
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success", output="done"))
    for invocation in moto_aws.ssm.invocations(first["command_id"]):
        moto_aws.ssm.set_invocation(
            first["command_id"], invocation["instance_id"], InvocationOutcome("Success")
        )
    pcm_workers.start("worker-1")  # the same executor id: DBOS resumes the workflow
    done = await fleet.wait(execution["id"])

    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 30}
    assert moto_aws.requests("ssm", "SendCommand") - sends == 3
    after = {b["number"]: b["command_id"] for b in done["batches"]}
    assert after[first["number"]] == first["command_id"]
    assert len(set(after.values())) == 3


async def test_a_send_interrupted_before_it_was_recorded_is_found_by_its_comment(
    make_fleet, moto_aws, pcm_workers
):
    from sqlalchemy import update

    from pcm_aws_script_runner.models import AwsSrExecutionBatch
    from pcm_aws_script_runner.services.executions import comment_stamp

    fleet = await make_fleet(us_east_1=5, us_west_2=5)
    execution = await fleet.start()  # no worker yet: it waits on its queue
    batch = (await fleet.batches(execution["id"]))[0]
    targets = [
        t["instance_id"]
        for t in await fleet.targets(execution["id"])
        if t["batch_number"] == batch["number"]
    ]
    # What a worker that died right after SendCommand leaves: the call went out, and the
    # batch says "sending" with no command id.
    ssm = moto_aws.harness_client("ssm", fleet.account_id, batch["region"])
    sent = ssm.send_command(
        InstanceIds=targets,
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["echo"]},
        Comment=comment_stamp(execution["id"], batch["number"]),
    )["Command"]["CommandId"]
    async with fleet.app.state.database.session() as session:
        await session.exec(
            update(AwsSrExecutionBatch)
            .where(
                AwsSrExecutionBatch.execution_id == execution["id"],
                AwsSrExecutionBatch.number == batch["number"],
            )
            .values(status="sending")
        )
    sends = moto_aws.requests("ssm", "SendCommand")

    pcm_workers.start("worker-2")
    done = await fleet.wait(execution["id"])

    assert done["status"] == "succeeded", done
    assert moto_aws.requests("ssm", "SendCommand") - sends == 1  # only the other batch
    assert {b["number"]: b["command_id"] for b in done["batches"]}[batch["number"]] == sent
    assert done["counts"] == {"Success": 10}


async def _sent(fleet, execution_id: int, count: int) -> dict[str, Any]:
    import asyncio

    for _ in range(1200):
        body = {
            **(await fleet.get(f"/executions/{execution_id}")).json(),
            "batches": await fleet.batches(execution_id),
        }
        if sum(b["status"] == "sent" for b in body["batches"]) >= count:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"no batch was sent: {body}")
