"""The inventory's pure parts: filters (validation, query strings) and the EC2 + SSM join."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.inventory import (
    InventoryFilter,
    clean_account_regions,
    filter_from_query,
    filter_to_query,
    parse_filter,
)
from pcm_aws_script_runner.services.inventory.sync_writes import join_instances


def test_a_filter_is_normalised_without_repeats() -> None:
    flt = InventoryFilter(
        states=["RUNNING", "running"],
        platforms=["windows"],
        regions=[" EU-West-1 "],
        search=" web ",
    )

    assert (flt.states, flt.platforms, flt.regions, flt.search) == (
        ["running"],
        ["Windows"],
        ["eu-west-1"],
        "web",
    )
    assert InventoryFilter().is_empty
    assert not flt.is_empty


def test_query_parameters_read_back_as_the_same_filter_with_or_without_a_prefix() -> None:
    flt = InventoryFilter(
        account_ids=["123456789012"],
        states=["running"],
        tags=[{"key": "env", "value": "prod"}, {"key": "team"}, {"key": "k", "value": "a=b"}],
        search="web",
    )

    for prefix in ("", "f_"):
        params: dict[str, list[str]] = {}
        for key, value in filter_to_query(flt, prefix=prefix):
            params.setdefault(key, []).append(value)
        assert filter_from_query(params, prefix=prefix) == flt
    assert ("f_tag", "k=a=b") in filter_to_query(flt, prefix="f_")


def test_every_bad_field_is_named() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_filter(
            {"account_ids": ["1"], "regions": ["x"], "tags": [{"key": ""}], "colour": "red"},
            field="filter",
        )

    fields = [field for field, _ in raised.value.problems]
    assert fields == [
        "filter.account_ids[0]",
        "filter.regions[0]",
        "filter.tags[0].key",
        "filter.colour",
    ]


def test_account_regions_are_checked_pair_by_pair() -> None:
    assert clean_account_regions(
        [("123456789012", "US-EAST-1"), ("123456789012", "us-east-1")]
    ) == [("123456789012", "us-east-1")]
    with pytest.raises(InvalidInput) as raised:
        clean_account_regions([("123456789012", "us-east-1"), ("12", "nowhere")])
    assert [f for f, _ in raised.value.problems] == [
        "account_regions[1].account_id",
        "account_regions[1].region",
    ]


def test_ec2_and_ssm_are_joined_by_instance_id() -> None:
    launched = datetime(2026, 1, 2, tzinfo=UTC)
    ec2 = [
        {
            "InstanceId": "i-1",
            "State": {"Name": "running"},
            "InstanceType": "m5.large",
            "PrivateIpAddress": "10.0.0.5",
            "PlatformDetails": "Linux/UNIX",
            "LaunchTime": launched,
            "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "prod"}],
        },
        {"InstanceId": "i-2", "State": {"Name": "stopped"}, "Platform": "windows"},
        {"InstanceId": "i-3", "State": {"Name": "terminated"}},
        {"InstanceId": "i-4", "State": {"Name": "running"}, "InstanceType": "mac2.metal"},
    ]
    ssm = [
        {
            "InstanceId": "i-1",
            "PingStatus": "Online",
            "AgentVersion": "3.3",
            "PlatformType": "Linux",
        },
        {
            "InstanceId": "mi-9",
            "PingStatus": "ConnectionLost",
            "PlatformType": "Linux",
            "PlatformName": "Ubuntu",
            "ComputerName": "lab-box",
            "IPAddress": "192.168.1.9",
        },
    ]

    records = {record.instance_id: record for record in join_instances(ec2, ssm)}

    assert sorted(records) == ["i-1", "i-2", "i-4", "mi-9"]
    web = records["i-1"]
    assert (web.name, web.tags, web.ping_status, web.agent_version, web.ssm_managed) == (
        "web",
        {"Name": "web", "env": "prod"},
        "Online",
        "3.3",
        True,
    )
    assert (web.private_ip, web.launched_at, web.platform_details) == (
        "10.0.0.5",
        launched,
        "Linux/UNIX",
    )
    assert (records["i-2"].platform, records["i-2"].ping_status) == ("Windows", "NotManaged")
    assert records["i-4"].platform == "MacOS"
    hybrid = records["mi-9"]
    assert (hybrid.name, hybrid.state, hybrid.private_ip, hybrid.platform_details) == (
        "lab-box",
        "",
        "192.168.1.9",
        "Ubuntu",
    )
