"""The AWS identifier patterns every AWS plugin checks input with."""

from __future__ import annotations

import pytest

from pcm_aws_common.patterns import is_account_id, is_instance_id, is_region


@pytest.mark.parametrize(
    "region",
    [
        "us-east-1",
        "eu-west-3",
        "ap-southeast-2",
        "us-gov-west-1",
        "cn-north-1",
        "us-iso-east-1",
        "us-isob-east-1",
        "eu-isoe-west-1",
        "il-central-1",
    ],
)
def test_a_region_of_any_partition_is_accepted(region):
    assert is_region(region)


@pytest.mark.parametrize("text", ["", "us-east", "US-EAST-1", "us_east_1", "useast1", "us-east-1a"])
def test_a_region_name_that_is_not_one_is_refused(text):
    assert not is_region(text)


def test_an_account_id_is_exactly_twelve_digits():
    assert is_account_id("123456789012")
    assert not is_account_id("12345678901")
    assert not is_account_id("1234567890123")
    assert not is_account_id("12345678901a")


def test_instance_ids_of_ec2_and_of_hybrid_nodes_are_accepted():
    assert is_instance_id("i-0123456789abcdef0")
    assert is_instance_id("i-01234567")
    assert is_instance_id("mi-0123456789abcdef0")
    assert not is_instance_id("i-0123")
    assert not is_instance_id("x-0123456789abcdef0")
    assert not is_instance_id("i-0123456789ABCDEF0")
