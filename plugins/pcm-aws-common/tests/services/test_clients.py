"""The client factory other plugins use: cross-account and GovCloud AssumeRole, refreshing,
caching, partition boundaries, regions, concurrency limits and call counting."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pcm_aws_common.config import AwsCommonSettings
from pcm_aws_common.services.clients import AwsClients
from pcm_aws_common.services.errors import (
    AccountNotFound,
    AssumeRoleError,
    PartitionBoundaryError,
    RegionNotAllowed,
)
from pcm_aws_common.services.parsing import ResponseParserFactory

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
async def registry(api):
    """A Commercial source with a member account reached by role, and a GovCloud source
    with the GovCloud account reached by role."""
    org = await api.add_keys("org")
    gov = await api.add_keys("gov", "govcloud")
    for body in (
        {
            "account_id": "222222222222",
            "name": "Member",
            "partition": "aws",
            "regions": ["us-east-1", "us-west-2"],
            "credential_source_id": org["id"],
            "role_arn": "arn:aws:iam::222222222222:role/PcmOpsAccess",
        },
        {
            "account_id": "333333333333",
            "name": "Gov",
            "partition": "aws-us-gov",
            "regions": ["us-gov-west-1"],
            "credential_source_id": gov["id"],
            "role_arn": "arn:aws-us-gov:iam::333333333333:role/PcmOpsAccess",
        },
    ):
        response = await api.add_account(**body)
        assert response.status_code == 201, response.text
    return {"org": org["id"], "gov": gov["id"]}


def _factory(api, **settings):
    return AwsClients(
        api.database, AwsCommonSettings(endpoint_url=api.moto.endpoint_url, **settings)
    )


async def test_assume_role_into_a_second_account_names_the_user(api, registry):
    async with _factory(api) as aws:
        identity = await aws.caller_identity(account="222222222222", user="alice")

    assert identity.account == "222222222222"
    assert identity.arn == "arn:aws:sts::222222222222:assumed-role/PcmOpsAccess/pcm-ops-alice"


@SQLITE_ONLY
async def test_assume_role_into_a_govcloud_account_stays_in_govcloud(api, registry):
    async with _factory(api) as aws:
        async with aws.client(
            "ec2", account="333333333333", region="us-gov-west-1", user="alice"
        ) as ec2:
            reservations = (await ec2.describe_instances())["Reservations"]
        identity = await aws.caller_identity(account="333333333333", user="alice")

    assert (
        identity.arn == "arn:aws-us-gov:sts::333333333333:assumed-role/PcmOpsAccess/pcm-ops-alice"
    )
    instances = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    assert set(api.moto.account("govcloud").instance_ids) <= set(instances)


@SQLITE_ONLY
async def test_assume_role_never_crosses_a_partition_boundary(api, registry):
    requests_before = api.moto.requests("sts")
    async with _factory(api) as aws:
        with pytest.raises(PartitionBoundaryError) as refused:
            await aws.caller_identity(
                source=registry["org"],
                role_arn="arn:aws-us-gov:iam::333333333333:role/PcmOpsAccess",
            )

    assert "never crosses a partition boundary" in str(refused.value)
    assert "aws (Commercial)" in str(refused.value)
    assert api.moto.requests("sts") == requests_before  # refused before asking AWS


@SQLITE_ONLY
async def test_a_failed_assume_role_names_account_role_and_aws_reason(api, registry):
    async with _factory(api) as aws:
        with pytest.raises(AssumeRoleError) as failed:
            await aws.caller_identity(
                source=registry["org"], role_arn="arn:aws:iam::222222222222:role/Nope"
            )

    assert failed.value.account == "222222222222"
    assert failed.value.role_arn == "arn:aws:iam::222222222222:role/Nope"
    assert failed.value.code == "AccessDenied"
    assert "not authorized to perform: sts:AssumeRole" in str(failed.value)


@SQLITE_ONLY
async def test_credentials_are_refreshed_before_they_expire_once_under_a_lock(api, registry):
    api.moto.set_assume_role_duration(3)
    aws = _factory(api, refresh_advisory_seconds=2, refresh_mandatory_seconds=1)
    counter = aws.api_calls
    async with aws:
        first = await aws.caller_identity(account="222222222222", user="alice")
        assumed = counter.calls("sts", "AssumeRole")
        await asyncio.sleep(1.2)  # now within 2 s of expiry: refresh before using them
        results = await asyncio.gather(
            *(aws.caller_identity(account="222222222222", user="alice") for _ in range(5))
        )
        refreshed = counter.calls("sts", "AssumeRole")
        await asyncio.sleep(2.0)  # the first credentials have expired by now
        late = await aws.caller_identity(account="222222222222", user="alice")

    assert refreshed - assumed == 1  # five callers, one refresh
    assert all(result.account == "222222222222" for result in [first, *results, late])
    assert counter.calls("sts", "AssumeRole") - assumed == 2


@SQLITE_ONLY
async def test_concurrent_asks_for_an_account_read_the_registry_once(api, registry):
    from sqlalchemy import event

    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM aws_common_account" in statement:
            reads.append(statement)

    engine = api.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with _factory(api) as aws:
            infos = await asyncio.gather(*(aws.get_account("222222222222") for _ in range(8)))
            again = await aws.get_account("222222222222")
            other = await aws.get_account("333333333333")
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert {info.account_id for info in infos} == {again.account_id} == {"222222222222"}
    assert other.account_id == "333333333333"
    assert len(reads) == 2  # one per account, however many asked at once


async def test_assumed_credentials_are_cached_per_user_and_clients_reused(api, registry):
    async with _factory(api) as aws:
        before = aws.api_calls.calls("sts", "AssumeRole")
        async with aws.client(
            "ssm", account="222222222222", region="us-east-1", user="alice"
        ) as first:
            pass
        async with aws.client(
            "ssm", account="222222222222", region="us-east-1", user="alice"
        ) as second:
            pass
        after_same_user = aws.api_calls.calls("sts", "AssumeRole")
        async with aws.client(
            "ssm", account="222222222222", region="us-east-1", user="bob"
        ) as third:
            pass

    assert first is second
    assert third is not first
    assert after_same_user - before == 1
    assert aws.api_calls.calls("sts", "AssumeRole") - before == 2


@SQLITE_ONLY
async def test_clients_of_one_account_asked_for_at_once_share_one_assume_role(api, registry):
    async with _factory(api) as aws:
        before = aws.api_calls.calls("sts", "AssumeRole")

        async def regions_of(service: str, region: str) -> str:
            async with aws.client(service, account="222222222222", region=region) as client:
                return str(client.meta.region_name)

        regions = await asyncio.gather(
            *(
                regions_of(service, region)
                for service in ("ssm", "ec2")
                for region in ("us-east-1", "us-west-2")
            )
        )

    assert sorted(regions) == ["us-east-1", "us-east-1", "us-west-2", "us-west-2"]
    assert aws.api_calls.calls("sts", "AssumeRole") - before == 1


@SQLITE_ONLY
async def test_clients_use_adaptive_retries_the_pool_size_and_the_endpoint(api, registry):
    aws = _factory(api, max_attempts=5, max_pool_connections=7)
    async with aws, aws.client("ssm", account="222222222222", region="us-west-2") as ssm:
        config = ssm.meta.config

    assert config.retries == {"mode": "adaptive", "total_max_attempts": 5}
    assert config.max_pool_connections == 7
    assert ssm.meta.endpoint_url == api.moto.endpoint_url


@SQLITE_ONLY
async def test_regions_outside_the_account_are_refused(api, registry):
    async with _factory(api) as aws:
        with pytest.raises(RegionNotAllowed, match="not enabled for account 222222222222"):
            async with aws.client("ssm", account="222222222222", region="eu-west-1"):
                pass
        with pytest.raises(RegionNotAllowed, match="not in partition aws-us-gov"):
            async with aws.client("ssm", account="333333333333", region="us-east-1"):
                pass
        with pytest.raises(AccountNotFound, match="not in the accounts registry"):
            async with aws.client("ssm", account="999999999999"):
                pass


@SQLITE_ONLY
async def test_calls_per_account_and_region_are_limited_across_callers(api, registry):
    api.moto.set_latency(0.2, service="sts", operation="GetCallerIdentity")
    async with _factory(api, concurrency_per_account_region=2) as aws:
        await aws.caller_identity(account="222222222222", user="warm-up")
        limit = aws.limit("222222222222", "us-east-1")
        limit.peak = 0
        started = time.monotonic()
        await asyncio.gather(
            *(aws.caller_identity(account="222222222222", user=f"user{i % 2}") for i in range(6))
        )
        elapsed = time.monotonic() - started

    assert limit.peak == 2
    assert elapsed >= 3 * 0.2  # six calls, two at a time


@SQLITE_ONLY
async def test_calls_and_errors_are_counted_by_service_and_operation(api, registry):
    async with _factory(api) as aws:
        counter = aws.api_calls
        calls = counter.calls("ssm", "DescribeInstanceInformation")
        errors = {c.operation: c.errors for c in counter.snapshot() if c.service == "ssm"}
        async with aws.client("ssm", account="222222222222", region="us-east-1") as ssm:
            await ssm.describe_instance_information()
            with pytest.raises(ssm.exceptions.InvalidCommandId):
                await ssm.list_command_invocations(CommandId="00000000-0000-0000-0000-000000000000")

    assert counter.calls("ssm", "DescribeInstanceInformation") - calls == 1
    snapshot = {c.operation: c for c in counter.snapshot() if c.service == "ssm"}
    assert snapshot["ListCommandInvocations"].errors - errors.get("ListCommandInvocations", 0) == 1
    metrics = await api.get("/metrics/api-calls", "viewer")
    assert {"service": "sts", "operation": "AssumeRole"} in [
        {"service": m["service"], "operation": m["operation"]} for m in metrics.json()
    ]


async def test_a_worker_builds_its_factory_from_the_settings(api, registry, pcm_settings):
    async with AwsClients.from_settings(pcm_settings) as aws:
        account = await aws.get_account("333333333333")
        identity = await aws.caller_identity(account=account, user="worker")
        gov_accounts = await aws.list_accounts(partition="aws-us-gov")

    assert (account.partition, account.partition_name, account.regions) == (
        "aws-us-gov",
        "GovCloud",
        ("us-gov-west-1",),
    )
    assert identity.account == "333333333333"
    assert [a.account_id for a in gov_accounts] == ["333333333333"]


async def test_the_factorys_clients_parse_json_by_plan_and_timestamps_fast(api, registry):
    before = datetime.now(UTC) - timedelta(seconds=5)
    async with _factory(api) as aws:
        async with aws.client("ssm", account="222222222222", region="us-east-1") as ssm:
            # The fake AWS lives for the whole session: a name of this run's own.
            name = f"/pcm/ts/{uuid.uuid4().hex}"
            await ssm.put_parameter(Name=name, Value="v", Type="String")
            described = await ssm.describe_parameters(
                ParameterFilters=[{"Key": "Name", "Values": [name]}]
            )
            # JSON bodies are read by plan (services.parsing); botocore keeps the rest.
            parsers = ssm._endpoint._response_parser_factory
            assert isinstance(parsers, ResponseParserFactory)
            assert type(parsers.create_parser("query")).__module__ == "aiobotocore.parsers"
        # A JSON protocol (epoch numbers) above, a query protocol (ISO text) here.
        async with aws.client("sts", account="222222222222") as sts:
            token = await sts.get_session_token()

    modified = described["Parameters"][0]["LastModifiedDate"]
    assert modified.tzinfo is UTC  # botocore's own parser gives dateutil's tzlocal()
    assert before <= modified <= datetime.now(UTC) + timedelta(seconds=5)
    assert token["Credentials"]["Expiration"] > before
