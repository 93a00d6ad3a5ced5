"""The extended moto server: accounts and partitions, authentication as AWS does it, STS
rules, latency injection."""

from __future__ import annotations

import asyncio
import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def client(moto_aws, aio_session):
    def make(service, region, **credentials):
        return aio_session.create_client(
            service, region_name=region, endpoint_url=moto_aws.endpoint_url, **credentials
        )

    return make


async def test_each_prepared_account_has_its_own_identity_and_partition(client, moto_aws):
    for name, region, arn in (
        ("management", "us-east-1", "arn:aws:iam::111111111111:user/pcm-ops"),
        ("member", "us-east-1", "arn:aws:iam::222222222222:user/pcm-ops"),
        ("govcloud", "us-gov-west-1", "arn:aws-us-gov:iam::333333333333:user/pcm-ops"),
    ):
        account = moto_aws.account(name)
        async with client("sts", region, **account.credentials) as sts:
            identity = await sts.get_caller_identity()
        assert (identity["Account"], identity["Arn"]) == (account.account_id, arn)
    assert moto_aws.account("govcloud").role_arn == (
        "arn:aws-us-gov:iam::333333333333:role/PcmOpsAccess"
    )


@pytest.mark.parametrize(
    ("service", "secret", "code"),
    [
        ("sts", None, "InvalidClientTokenId"),
        ("sts", "wrong", "SignatureDoesNotMatch"),
        ("ssm", None, "UnrecognizedClientException"),
        ("ssm", "wrong", "InvalidSignatureException"),
        ("ec2", None, "AuthFailure"),
    ],
)
async def test_bad_credentials_are_refused_as_aws_refuses_them(
    client, moto_aws, service, secret, code
):
    account = moto_aws.account("management")
    key = account.access_key_id if secret else "AKIAIOSFODNN7UNKNOWN"
    async with client(
        service, "us-east-1", aws_access_key_id=key, aws_secret_access_key=secret or "whatever"
    ) as client:
        call = {"sts": "get_caller_identity", "ssm": "list_commands", "ec2": "describe_instances"}[
            service
        ]
        with pytest.raises(ClientError) as refused:
            await getattr(client, call)()

    assert refused.value.response["Error"]["Code"] == code


async def test_assumed_credentials_expire_when_the_server_says(client, moto_aws):
    gov = moto_aws.account("govcloud")
    moto_aws.set_assume_role_duration(1)
    async with client("sts", "us-gov-west-1", **gov.credentials) as sts:
        assumed = await sts.assume_role(RoleArn=gov.role_arn, RoleSessionName="short")
    credentials = assumed["Credentials"]
    temporary = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }

    async with client("sts", "us-gov-west-1", **temporary) as sts:
        fresh = await sts.get_caller_identity()
        await asyncio.sleep(1.1)
        with pytest.raises(ClientError) as expired:
            await sts.get_caller_identity()

    assert fresh["Arn"] == "arn:aws-us-gov:sts::333333333333:assumed-role/PcmOpsAccess/short"
    assert expired.value.response["Error"] == {
        "Type": "Sender",
        "Code": "ExpiredToken",
        "Message": "The security token included in the request is expired",
    }


async def test_assume_role_refuses_missing_roles_and_long_sessions(client, moto_aws):
    management = moto_aws.account("management")
    short_role = moto_aws.add_role(
        "222222222222", f"Short{int(time.time() * 1000)}", max_session_duration=3600
    )
    async with client("sts", "us-east-1", **management.credentials) as sts:
        with pytest.raises(ClientError) as missing:
            await sts.assume_role(
                RoleArn="arn:aws:iam::222222222222:role/Nope", RoleSessionName="test"
            )
        with pytest.raises(ClientError) as too_long:
            await sts.assume_role(RoleArn=short_role, RoleSessionName="test", DurationSeconds=7200)
        with pytest.raises(ClientError) as cross_partition:
            await sts.assume_role(
                RoleArn=moto_aws.account("govcloud").role_arn, RoleSessionName="test"
            )

    assert missing.value.response["Error"]["Code"] == "AccessDenied"
    assert missing.value.response["Error"]["Message"] == (
        "User: arn:aws:iam::111111111111:user/pcm-ops is not authorized to perform: "
        "sts:AssumeRole on resource: arn:aws:iam::222222222222:role/Nope"
    )
    assert too_long.value.response["Error"]["Code"] == "ValidationError"
    assert cross_partition.value.response["Error"]["Code"] == "AccessDenied"


async def test_latency_is_injected_per_service_and_operation(client, moto_aws):
    account = moto_aws.account("management")
    moto_aws.set_latency(0.3, service="sts", operation="GetCallerIdentity")
    async with client("sts", "us-east-1", **account.credentials) as sts:
        started = time.monotonic()
        await sts.get_caller_identity()
        slow = time.monotonic() - started
    async with client("ssm", "us-east-1", **account.credentials) as ssm:
        started = time.monotonic()
        await ssm.list_commands()
        fast = time.monotonic() - started

    assert slow >= 0.3
    assert fast < 0.3


async def test_requests_are_counted_by_service_and_operation(client, moto_aws):
    account = moto_aws.account("member")
    before = moto_aws.requests("sts", "GetCallerIdentity")
    async with client("sts", "us-east-1", **account.credentials) as sts:
        await sts.get_caller_identity()
        await sts.get_caller_identity()

    assert moto_aws.requests("sts", "GetCallerIdentity") - before == 2


def test_profiles_name_each_prepared_account(moto_aws, tmp_path):
    config, credentials = moto_aws.profiles_file(tmp_path)

    assert "[profile 333333333333]\nregion = us-gov-west-1" in config.read_text()
    assert moto_aws.account("member").access_key_id in credentials.read_text()


def test_a_keep_alive_server_answers_many_calls_on_one_connection_and_stops():
    """``MotoAws(keep_alive=True)`` (the fan-out bench's fake AWS) keeps a connection open
    between requests, as AWS does, where werkzeug's server closes each one."""
    import http.client

    import boto3

    from pcm_aws_common.testing import MotoAws

    def answers_on_one_connection(aws: MotoAws) -> list[tuple[int, str | None]]:
        host, port = aws.endpoint_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        seen = []
        try:
            for _ in range(3):
                connection.request("GET", "/pcm-moto/requests")
                response = connection.getresponse()
                response.read()
                seen.append((response.status, response.getheader("connection")))
                if response.will_close:
                    connection.close()
        finally:
            connection.close()
        return seen

    with MotoAws(keep_alive=True) as aws:
        account = aws.add_account("444444444444")
        kept = answers_on_one_connection(aws)
        sts = boto3.client(
            "sts", region_name="us-east-1", endpoint_url=aws.endpoint_url, **account.credentials
        )
        assert sts.get_caller_identity()["Account"] == "444444444444"
        sts.close()
    assert kept == [(200, None)] * 3
    with MotoAws() as aws:
        assert answers_on_one_connection(aws) == [(200, "close")] * 3
