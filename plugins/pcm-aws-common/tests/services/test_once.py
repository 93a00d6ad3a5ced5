"""Calls that must not happen twice, against the fake AWS with faults injected: botocore
never resends a non-idempotent call, and an unknown outcome is resolved by asking the
service before calling again."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from pcm_aws_common.config import AwsCommonSettings
from pcm_aws_common.services.clients import AwsClients
from pcm_aws_common.services.once import (
    CallNotMade,
    CallRefused,
    OutcomeUnknown,
    call_at_most_once,
    outcome_unknown,
)

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
REGION = "us-west-2"


@pytest.fixture
async def member(api):
    source = await api.add_keys("org")
    response = await api.add_account(
        account_id="222222222222",
        name="Member",
        partition="aws",
        regions=["us-east-1", REGION],
        credential_source_id=source["id"],
        role_arn="arn:aws:iam::222222222222:role/PcmOpsAccess",
    )
    assert response.status_code == 201, response.text
    return "222222222222"


@pytest.fixture
def instance(api, member):
    return api.moto.add_instances(member, REGION, 1)[0]


@pytest.fixture
async def aws(api):
    settings = AwsCommonSettings(endpoint_url=api.moto.endpoint_url, read_timeout=1)
    async with AwsClients(api.database, settings) as clients:
        yield clients
    api.moto.controls.clear_faults()


def commands_for(moto, instance):
    return [c for c in moto.ssm.commands() if instance in c["instance_ids"]]


def sender(ssm, instance, stamp):
    async def send():
        response = await ssm.send_command(
            InstanceIds=[instance],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["uptime"]},
            Comment=stamp,
        )
        return response["Command"]["CommandId"]

    async def find():
        for command in (await ssm.list_commands())["Commands"]:
            if command.get("Comment") == stamp:
                return command["CommandId"]
        return None

    return send, find


async def no_wait(_seconds):
    return None


@SQLITE_ONLY
async def test_botocore_resends_a_failed_call_unless_the_client_is_not_idempotent(
    api, member, instance
):
    api.moto.controls.inject("ssm", "SendCommand", "error")  # every answer lost after SSM ran it
    settings = AwsCommonSettings(endpoint_url=api.moto.endpoint_url, max_attempts=3)
    for idempotent in (True, False):
        async with (
            AwsClients(api.database, settings) as aws,
            aws.client("ssm", account=member, region=REGION, idempotent=idempotent) as ssm,
        ):
            with pytest.raises(ClientError) as failed:
                await ssm.send_command(
                    InstanceIds=[instance],
                    DocumentName="AWS-RunShellScript",
                    Parameters={"commands": ["uptime"]},
                )
        assert outcome_unknown(failed.value)

    runs = [len(c["instance_ids"]) for c in commands_for(api.moto, instance)]
    # With retries (the default client) botocore sent it max_attempts times: the script ran
    # on the instance again and again. Without, once.
    assert len(runs) == 3 + 1
    api.moto.controls.clear_faults()


@SQLITE_ONLY
@pytest.mark.parametrize("kind", ["error", "timeout", "reset"])
async def test_an_answer_lost_after_processing_is_adopted_not_sent_again(
    api, aws, member, instance, kind
):
    api.moto.controls.inject("ssm", "SendCommand", kind, times=1, seconds=1.5)
    stamp = f"once {uuid.uuid4().hex[:8]}"
    async with aws.client("ssm", account=member, region=REGION, idempotent=False) as ssm:
        send, find = sender(ssm, instance, stamp)
        once = await call_at_most_once(send, find, sleep=no_wait)

    [command] = commands_for(api.moto, instance)
    assert once.adopted is True
    assert once.calls == 1
    assert once.value == command["command_id"]
    assert len(once.unknown) == 1


@SQLITE_ONLY
@pytest.mark.parametrize("kind", ["throttle", "error", "reset"])
async def test_a_call_refused_before_processing_is_made_again_after_looking(
    api, aws, member, instance, kind
):
    api.moto.controls.inject("ssm", "SendCommand", kind, after=False, times=2)
    stamp = f"once {uuid.uuid4().hex[:8]}"
    async with aws.client("ssm", account=member, region=REGION, idempotent=False) as ssm:
        send, find = sender(ssm, instance, stamp)
        once = await call_at_most_once(send, find, attempts=3, sleep=no_wait)

    [command] = commands_for(api.moto, instance)
    assert (once.adopted, once.calls, once.value) == (False, 3, command["command_id"])


@SQLITE_ONLY
async def test_a_refusal_is_final_and_never_retried(api, aws, member):
    unknown_instance = "i-0123456789abcdef0"
    async with aws.client("ssm", account=member, region=REGION, idempotent=False) as ssm:
        send, find = sender(ssm, unknown_instance, "refused")
        before = api.moto.requests("ssm", "SendCommand")
        with pytest.raises(CallRefused) as refused:
            await call_at_most_once(send, find, sleep=no_wait)

    assert refused.value.code == "InvalidInstanceId"
    assert api.moto.requests("ssm", "SendCommand") == before + 1


@SQLITE_ONLY
async def test_when_every_attempt_is_lost_before_processing_the_call_is_not_made(
    api, aws, member, instance
):
    api.moto.controls.inject("ssm", "SendCommand", "error", after=False)
    async with aws.client("ssm", account=member, region=REGION, idempotent=False) as ssm:
        send, find = sender(ssm, instance, "never")
        with pytest.raises(CallNotMade) as failed:
            await call_at_most_once(send, find, attempts=2, sleep=no_wait)

    assert type(failed.value) is CallNotMade
    assert failed.value.code == "InternalServerError"
    assert len(failed.value.unknown) == 2
    assert commands_for(api.moto, instance) == []


@SQLITE_ONLY
async def test_when_the_service_cannot_be_asked_the_outcome_stays_unknown(
    api, aws, member, instance
):
    api.moto.controls.inject("ssm", "SendCommand", "error")
    api.moto.controls.inject("ssm", "ListCommands", "error", after=False)
    async with aws.client("ssm", account=member, region=REGION, idempotent=False) as ssm:
        send, find = sender(ssm, instance, "unknowable")
        with pytest.raises(OutcomeUnknown):
            await call_at_most_once(send, find, attempts=3, sleep=no_wait)

    assert len(commands_for(api.moto, instance)) == 1  # sent once, never again


async def test_looking_first_adopts_what_an_earlier_process_sent():
    calls = []

    async def send():
        calls.append("send")
        return "new"

    async def find():
        return "earlier"

    once = await call_at_most_once(send, find, look_first=True, sleep=no_wait)

    assert (once.value, once.adopted, once.calls, calls) == ("earlier", True, 0, [])
