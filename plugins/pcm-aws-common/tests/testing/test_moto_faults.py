"""Fault injection in the extended moto server: answers lost after AWS acted (500, read
timeout, reset connection) and requests refused before it did (500, throttling)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

REGION = "us-west-2"


@pytest.fixture
def account(moto_aws):
    return moto_aws.account("member")


@pytest.fixture
def instance(moto_aws, account):
    return moto_aws.add_instances(account.account_id, REGION, 1)[0]


@pytest.fixture
async def ssm(moto_aws, account, aio_session):
    """An SSM client that never retries and gives up reading after 1 s."""
    config = AioConfig(retries={"total_max_attempts": 1}, read_timeout=1, connect_timeout=2)
    async with aio_session.create_client(
        "ssm",
        region_name=REGION,
        endpoint_url=moto_aws.endpoint_url,
        config=config,
        **account.credentials,
    ) as client:
        yield client


@pytest.fixture(autouse=True)
def no_faults_left(moto_aws):
    yield
    moto_aws.controls.clear_faults()


def sent_to(moto_aws, instance):
    return [c for c in moto_aws.ssm.commands() if instance in c["instance_ids"]]


async def send(ssm, instance, comment="fault test"):
    return await ssm.send_command(
        InstanceIds=[instance],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["uptime"]},
        Comment=comment,
    )


@pytest.mark.parametrize(
    ("kind", "raised", "code"),
    [
        ("error", ClientError, "InternalServerError"),
        ("throttle", ClientError, "ThrottlingException"),
        ("timeout", ReadTimeoutError, None),
        ("reset", ConnectionClosedError, None),
    ],
)
async def test_an_answer_lost_after_processing_leaves_the_command_sent(
    moto_aws, ssm, instance, kind, raised, code
):
    moto_aws.controls.inject("ssm", "SendCommand", kind, seconds=1.5)

    with pytest.raises(raised) as failed:
        await send(ssm, instance, comment=f"lost {kind}")

    if code is not None:
        assert failed.value.response["Error"]["Code"] == code
    [command] = sent_to(moto_aws, instance)
    assert command["comment"] == f"lost {kind}"
    assert [(f.operation, f.kind, f.after) for f in moto_aws.controls.injected()][-1] == (
        "SendCommand",
        kind,
        True,
    )


@pytest.mark.parametrize("kind", ["error", "throttle", "reset"])
async def test_a_request_refused_before_processing_sends_nothing(moto_aws, ssm, instance, kind):
    moto_aws.controls.inject("ssm", "SendCommand", kind, after=False)

    with pytest.raises((ClientError, ConnectionClosedError)):
        await send(ssm, instance)

    assert sent_to(moto_aws, instance) == []


async def test_a_fault_strikes_as_many_times_as_asked_then_calls_go_through(
    moto_aws, ssm, instance
):
    moto_aws.controls.inject("ssm", "SendCommand", "error", after=False, times=2)
    outcomes = []
    for _ in range(3):
        try:
            await send(ssm, instance)
            outcomes.append("sent")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    assert outcomes == ["InternalServerError", "InternalServerError", "sent"]
    assert len(sent_to(moto_aws, instance)) == 1


async def test_a_seeded_rate_strikes_the_same_requests_every_run(moto_aws, ssm, instance):
    def run() -> list[bool]:
        fault = moto_aws.controls.inject("ssm", "ListCommands", "error", rate=0.5, seed=3)
        struck = [moto_aws.controls.fault_for("ssm", "ListCommands") is not None for _ in range(20)]
        moto_aws.controls.clear_faults()
        assert fault.hits == sum(struck)
        return struck

    first, second = run(), run()

    assert first == second
    assert 3 < sum(first) < 17  # about half


async def test_other_operations_are_not_touched(moto_aws, ssm, instance):
    moto_aws.controls.inject("ssm", "SendCommand", "error")

    listed = await ssm.list_commands()

    assert "Commands" in listed


def test_faults_are_set_and_read_over_http(moto_aws):
    def call(method: str, body: dict | None = None) -> object:
        request = urllib.request.Request(
            f"{moto_aws.endpoint_url}/pcm-moto/faults",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    call("POST", {"service": "sts", "operation": "GetCallerIdentity", "kind": "throttle"})
    struck = moto_aws.controls.fault_for("sts", "GetCallerIdentity")
    call("DELETE")

    assert struck is not None
    assert struck.kind == "throttle"
    assert moto_aws.controls.fault_for("sts", "GetCallerIdentity") is None
    assert {
        "service": "sts",
        "operation": "GetCallerIdentity",
        "kind": "throttle",
        "after": True,
    } in call("GET")


def test_an_unknown_fault_kind_is_refused(moto_aws):
    with pytest.raises(ValueError, match="unknown fault kind 'gremlins'"):
        moto_aws.controls.inject("ssm", "SendCommand", "gremlins")
