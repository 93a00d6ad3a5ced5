"""Exactly once, with AWS failing as networks and services do: a batch's SendCommand whose
answer is lost after SSM ran it (a 500, a read timeout, a dropped connection) is adopted,
never sent again; one refused before SSM saw it (throttling, a 500) is sent again after SSM
says it has no such command; one that never gets through is recorded as not sent. Counted
from the fake AWS's own log of commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

#: As in conftest.py, plus a short wait before SSM is asked about a lost answer.
FAST = {
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.05",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.2",
    "PCM_AWS_SCRIPT_RUNNER__SEND_RETRY_SECONDS": "0.05",
}
#: The read timeout of the test of lost answers by timeout (the fault holds answers back
#: 1.5 s); the other tests keep the default, so that a slow machine never times out.
SHORT_READ_TIMEOUT = "1"
FAST_JOBS = {
    "jobs_queue_poll_seconds": 0.05,
    "jobs_heartbeat_seconds": 0.5,
    "jobs_event_poll_seconds": 0.1,
}
PER_REGION = 12  # 36 instances, 6 batches of 6 (max concurrency 6)
BATCHES = 6


@pytest.fixture
def pcm_settings(
    make_pcm_settings: Any,
    moto_aws: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Any:
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("kind") == "timeout":
        monkeypatch.setenv("PCM_AWS_COMMON__READ_TIMEOUT", SHORT_READ_TIMEOUT)
    if "outcome_stays_unknown" in request.node.name:
        # A failed lookup fails at once instead of after botocore's 8 attempts.
        monkeypatch.setenv("PCM_AWS_COMMON__MAX_ATTEMPTS", "1")
    return make_pcm_settings(**FAST_JOBS)


@pytest.fixture(autouse=True)
def no_faults_left(moto_aws: Any) -> Any:
    yield
    moto_aws.controls.clear_faults()


def commands_of(moto_aws: Any, fleet: Any) -> list[dict[str, Any]]:
    return [c for c in moto_aws.ssm.commands() if c["account"] == fleet.account_id]


def assert_each_batch_ran_once(done: dict[str, Any], commands: list[dict[str, Any]]) -> None:
    """One command per batch, every instance in exactly one, and the execution's record
    names the very command SSM ran for each batch."""
    assert len(commands) == BATCHES, [c["comment"] for c in commands]
    covered = Counter(i for c in commands for i in c["instance_ids"])
    assert len(covered) == 3 * PER_REGION
    assert set(covered.values()) == {1}
    by_stamp = {c["comment"].split(":")[0]: c["command_id"] for c in commands}
    recorded = {
        f"pcm-ops execution {done['id']} batch {b['number']}": b["command_id"]
        for b in done["batches"]
    }
    assert recorded == by_stamp


@pytest.mark.parametrize(
    ("kind", "times"),
    [("error", 3), ("timeout", 2), ("reset", 2)],
)
async def test_an_answer_lost_after_ssm_ran_the_batch_is_adopted_not_sent_again(
    make_fleet, moto_aws, kind, times
):
    fleet = await make_fleet(us_east_1=PER_REGION, us_west_2=PER_REGION, eu_west_1=PER_REGION)
    fault = moto_aws.controls.inject("ssm", "SendCommand", kind, times=times, seconds=1.5)

    execution = await fleet.start(max_concurrency=6)
    done = await fleet.wait(execution["id"])

    assert fault.hits == times
    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 3 * PER_REGION}
    assert {b["status"] for b in done["batches"]} == {"finished"}
    assert_each_batch_ran_once(done, commands_of(moto_aws, fleet))


async def test_a_third_of_the_answers_lost_still_runs_every_instance_once(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=PER_REGION, us_west_2=PER_REGION, eu_west_1=PER_REGION)
    fault = moto_aws.controls.inject("ssm", "SendCommand", "error", rate=0.3, seed=3)

    execution = await fleet.start(max_concurrency=6)
    done = await fleet.wait(execution["id"])

    assert fault.hits >= 2
    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 3 * PER_REGION}
    assert_each_batch_ran_once(done, commands_of(moto_aws, fleet))


async def test_throttling_before_ssm_saw_the_batch_sends_it_once_afterwards(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=PER_REGION, us_west_2=PER_REGION, eu_west_1=PER_REGION)
    fault = moto_aws.controls.inject("ssm", "SendCommand", "throttle", after=False, times=2)

    execution = await fleet.start(max_concurrency=6)
    done = await fleet.wait(execution["id"])

    assert fault.hits == 2
    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 3 * PER_REGION}
    assert_each_batch_ran_once(done, commands_of(moto_aws, fleet))


async def test_a_batch_ssm_never_received_is_recorded_as_not_sent_with_the_reason(
    make_fleet, moto_aws
):
    fleet = await make_fleet(us_east_1=PER_REGION)
    moto_aws.controls.inject("ssm", "SendCommand", "error", after=False)

    execution = await fleet.start(max_concurrency=PER_REGION, max_errors="100%")
    done = await fleet.wait(execution["id"])

    assert commands_of(moto_aws, fleet) == []
    assert done["status"] == "failed"
    assert done["counts"] == {"Undeliverable": PER_REGION}
    [batch] = done["batches"]
    assert batch["status"] == "failed"
    assert batch["command_id"] is None
    assert batch["error"].startswith("SendCommand failed 3 times (InternalServerError")
    assert "SSM has no command for the batch" in batch["error"]


async def test_a_refusal_is_recorded_at_once_and_never_retried(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=PER_REGION)
    # SSM refuses a batch whose instances it does not know (InvalidInstanceId, a 400).
    moto_aws.stop_instances(fleet.account_id, "us-east-1", fleet.instances["us-east-1"])
    sends = moto_aws.requests("ssm", "SendCommand")

    execution = await fleet.start(max_concurrency=PER_REGION, max_errors="100%")
    done = await fleet.wait(execution["id"])

    assert moto_aws.requests("ssm", "SendCommand") - sends == 1
    assert commands_of(moto_aws, fleet) == []
    assert done["counts"] == {"Undeliverable": PER_REGION}
    assert done["batches"][0]["error"].startswith("SendCommand refused: InvalidInstanceId")


class RegistryTimesOut:
    """The database times out, as a full connection pool does, for the next ``times``
    reads of the accounts registry made by the job engine (not by the test's API calls,
    which run in this thread): the failure comes before any AWS client exists."""

    def __init__(self, times: int) -> None:
        self.times, self.hits = times, 0
        self.test_thread = threading.current_thread()

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            self.hits < self.times
            and "FROM aws_common_account" in statement
            and threading.current_thread() is not self.test_thread
        ):
            self.hits += 1
            raise sqlalchemy.exc.TimeoutError(
                "QueuePool limit of size 5 overflow 10 reached, connection timed out"
            )


@pytest.mark.parametrize("times", [2, 5], ids=["within-the-step", "beyond-the-step"])
async def test_a_failure_before_the_client_exists_is_retried_not_recorded(
    make_fleet, moto_aws, times
):
    """2 failures: the step's own retries get through; 5: more than the step's 3 attempts,
    the workflow tries the batch again later. Never ``Undeliverable``, sent once."""
    fleet = await make_fleet(us_east_1=PER_REGION)
    fault = RegistryTimesOut(times)
    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", fault)
    try:
        execution = await fleet.start(max_concurrency=PER_REGION)
        done = await fleet.wait(execution["id"])
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", fault)

    assert fault.hits == times
    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": PER_REGION}
    [command] = commands_of(moto_aws, fleet)
    assert sorted(command["instance_ids"]) == sorted(fleet.instances["us-east-1"])
    [batch] = done["batches"]
    assert (batch["status"], batch["command_id"]) == ("finished", command["command_id"])


async def test_a_batch_whose_outcome_stays_unknown_does_not_hold_back_its_group(
    make_fleet, moto_aws, pcm_app
):
    """Three batches go out in one send step; one's answer is lost and SSM cannot be asked
    about it: the other two are recorded (and announced) at once, the step fails, and its
    retry looks before sending: the lost one is adopted. Each batch runs once."""
    from pcm_ops.jobs.events import read_events

    fleet = await make_fleet(us_east_1=PER_REGION, us_west_2=PER_REGION, eu_west_1=PER_REGION)
    lost = moto_aws.controls.inject("ssm", "SendCommand", "error", times=1)
    unasked = moto_aws.controls.inject("ssm", "ListCommands", "error", times=1)

    execution = await fleet.start(max_concurrency="100%")
    done = await fleet.wait(execution["id"])

    assert (lost.hits, unasked.hits) == (1, 1)
    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 3 * PER_REGION}
    commands = commands_of(moto_aws, fleet)
    assert len(commands) == len(done["batches"]) == 3
    assert Counter(i for c in commands for i in c["instance_ids"]) == Counter(
        i for ids in fleet.instances.values() for i in ids
    )
    events = await read_events(
        pcm_app.state.database.engine, f"aws-script-runner:execution:{done['id']}", limit=1000
    )
    sent = [e.data for e in events if e.type == "batch" and e.data["status"] == "sent"]
    assert sorted(e["number"] for e in sent) == [1, 2, 3]  # each announced once
    assert [e["adopted"] for e in sorted(sent, key=lambda e: e["number"])].count(True) == 1
