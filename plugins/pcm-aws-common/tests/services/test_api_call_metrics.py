"""``pcm_aws_api_calls_total`` on ``/metrics``: every AWS call the client factory's clients
make, by service, operation, account, region and outcome, against moto over HTTP; with no
secret, key id or instance id in its labels."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from pcm_aws_common.config import AwsCommonSettings
from pcm_aws_common.services.clients import AwsClients

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
REGION = "us-west-2"
MEMBER = "222222222222"


@pytest.fixture
async def member(api: Any) -> str:
    source = await api.add_keys("org")
    response = await api.add_account(
        account_id=MEMBER,
        name="Member",
        partition="aws",
        regions=["us-east-1", REGION],
        credential_source_id=source["id"],
        role_arn=f"arn:aws:iam::{MEMBER}:role/PcmOpsAccess",
    )
    assert response.status_code == 201, response.text
    return MEMBER


@pytest.fixture
async def aws(api: Any) -> Any:
    settings = AwsCommonSettings(endpoint_url=api.moto.endpoint_url, max_attempts=2)
    async with AwsClients(api.database, settings) as clients:
        yield clients
    api.moto.controls.clear_faults()


async def calls(api: Any) -> tuple[str, dict[tuple[str, ...], float]]:
    """``/metrics`` as text, and ``pcm_aws_api_calls_total`` by its labels."""
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    found: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != "pcm_aws_api_calls":
            continue
        for sample in family.samples:
            if sample.name == "pcm_aws_api_calls_total":
                labels = sample.labels
                key = tuple(
                    labels[name]
                    for name in ("service", "operation", "account", "region", "outcome")
                )
                found[key] = sample.value
    return response.text, found


def grew(before: dict[tuple[str, ...], float], after: dict[tuple[str, ...], float]) -> dict:
    return {
        key: value - before.get(key, 0.0)
        for key, value in after.items()
        if value > before.get(key, 0.0)
    }


@SQLITE_ONLY
async def test_calls_are_counted_by_service_operation_account_region_and_outcome(
    api: Any, aws: Any, member: str
) -> None:
    instance = api.moto.add_instances(member, REGION, 1)[0]
    _, before = await calls(api)

    async with aws.client("ec2", account=member, region=REGION, user="alice") as ec2:
        await ec2.describe_instances()
        await ec2.describe_instances()
        api.moto.controls.inject("ec2", "DescribeRegions", "throttle", after=False)
        with pytest.raises(ClientError):
            await ec2.describe_regions()
        api.moto.controls.clear_faults()
        api.moto.controls.inject("ec2", "DescribeVpcs", "error", after=False)
        with pytest.raises(ClientError):
            await ec2.describe_vpcs()

    text, after = await calls(api)
    counted = grew(before, after)
    assert counted[("ec2", "DescribeInstances", member, REGION, "ok")] == 2
    assert counted[("ec2", "DescribeRegions", member, REGION, "throttled")] == 1
    assert counted[("ec2", "DescribeVpcs", member, REGION, "error")] == 1
    # The AssumeRole that reached the account is counted under the source that made it.
    assume = [key for key in counted if key[:2] == ("sts", "AssumeRole")]
    assert assume, counted
    assert all(key[2].startswith("source:") and key[4] == "ok" for key in assume)

    prepared = api.moto.account("management")
    for value in (prepared.access_key_id, prepared.secret_access_key, instance, "alice"):
        assert value not in text
