"""``pcm_aws_script_runner.lookup``: the inventory as other plugins read it, on real rows."""

from __future__ import annotations

import dataclasses

import pytest

from pcm_aws_script_runner.lookup import InventoryInstance, find_instances
from pcm_aws_script_runner.testing import add_inventory_instances

PROD = "111111111111"
OTHER = "222222222222"
GOV = "333333333333"


@pytest.fixture
async def database(pcm_migrated_database):
    await add_inventory_instances(
        pcm_migrated_database,
        PROD,
        "eu-west-1",
        ["i-0000000000000000a"],
        name="Web-01",
        private_ip="10.0.0.1",
        tags={"Environment": "production"},
    )
    await add_inventory_instances(
        pcm_migrated_database,
        OTHER,
        "us-east-1",
        ["i-0000000000000000b"],
        name="db-01",
        private_ip="10.0.0.1",
        ssm_managed=False,
        ping_status="NotManaged",
    )
    await add_inventory_instances(
        pcm_migrated_database,
        GOV,
        "us-gov-west-1",
        ["i-0000000000000000c"],
        name="gov-web-01",
        private_ip="10.9.0.3",
        ping_status="ConnectionLost",
    )
    return pcm_migrated_database


async def find(database, **asked) -> list[InventoryInstance]:
    async with database.session() as session:
        return await find_instances(session, **asked)


async def test_an_instance_is_found_by_its_id_with_what_the_inventory_knows(database):
    [found] = await find(database, instance_ids=["i-0000000000000000a"])

    assert (found.account_id, found.region, found.instance_id) == (
        PROD,
        "eu-west-1",
        "i-0000000000000000a",
    )
    assert (found.name, found.private_ip, found.ping_status, found.ssm_managed) == (
        "Web-01",
        "10.0.0.1",
        "Online",
        True,
    )
    assert found.tags == {"Environment": "production"}
    assert found.has_tag("Environment", "production")
    assert not found.has_tag("Environment", "staging")


async def test_an_ip_shared_by_two_accounts_finds_both(database):
    found = await find(database, private_ips=["10.0.0.1"])

    assert [(i.account_id, i.instance_id) for i in found] == [
        (PROD, "i-0000000000000000a"),
        (OTHER, "i-0000000000000000b"),
    ]


async def test_names_are_compared_without_case(database):
    found = await find(database, names=["WEB-01", " gov-WEB-01 "])

    assert [i.name for i in found] == ["Web-01", "gov-web-01"]


async def test_a_govcloud_instance_is_found_like_any_other(database):
    [found] = await find(database, private_ips=["10.9.0.3"])

    assert (found.account_id, found.region, found.ping_status) == (
        GOV,
        "us-gov-west-1",
        "ConnectionLost",
    )


async def test_the_criteria_are_alternatives_and_each_instance_comes_once(database):
    found = await find(
        database,
        instance_ids=["i-0000000000000000a"],
        private_ips=["10.0.0.1"],
        names=["web-01"],
    )

    assert [i.instance_id for i in found] == ["i-0000000000000000a", "i-0000000000000000b"]


async def test_nothing_asked_or_nothing_known_finds_nothing(database):
    assert await find(database) == []
    assert await find(database, instance_ids=["i-0000000000000dead"], names=["nope"]) == []


async def test_many_ids_at_once_are_asked_in_chunks(database):
    ids = [f"i-{n:017x}" for n in range(0x100, 0x100 + 1200)] + ["i-0000000000000000c"]

    found = await find(database, instance_ids=ids)

    assert [i.instance_id for i in found] == ["i-0000000000000000c"]


async def test_what_it_returns_is_frozen_and_its_tags_read_only(database):
    [found] = await find(database, instance_ids=["i-0000000000000000a"])

    with pytest.raises(dataclasses.FrozenInstanceError):
        found.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        found.tags["Environment"] = "dev"  # type: ignore[index]
    assert hash(found)
