"""``/inventory/instances``, ``/inventory/filters``: browsing a known fleet (written the way
a sync writes it), each filter, paging and sorting, errors that name the parameter, saved
filters and their audit."""

from __future__ import annotations

from typing import Any

import pytest

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

API = "/api/tools/aws/script-runner"
A, B = "111100000001", "222200000002"
sqlite_only = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)

#: (account, region, id, name, state, platform, ping status, tags)
FLEET = [
    (
        A,
        "us-east-1",
        "i-0000000000000001a",
        "web-1",
        "running",
        "Linux",
        "Online",
        {"env": "prod", "team": "web"},
    ),
    (
        A,
        "us-east-1",
        "i-0000000000000002b",
        "web-2",
        "stopped",
        "Linux",
        "ConnectionLost",
        {"env": "prod"},
    ),
    (
        A,
        "us-east-1",
        "i-0000000000000003c",
        "db-1",
        "running",
        "Linux",
        "NotManaged",
        {"env": "staging"},
    ),
    (
        A,
        "eu-west-1",
        "i-0000000000000004d",
        "win-1",
        "running",
        "Windows",
        "Online",
        {"env": "prod", "os": ""},
    ),
    (
        B,
        "us-east-1",
        "i-0000000000000005e",
        "mac-1",
        "running",
        "MacOS",
        "Inactive",
        {"team": "ios"},
    ),
    (B, "us-east-1", "i-0000000000000006f", "WEB-3", "running", "Linux", "Online", {"env": "dev"}),
]


async def seed_fleet(database: Any, rows: list[tuple[Any, ...]] = FLEET) -> None:
    from pcm_aws_script_runner.services.inventory.sync_writes import (
        InstanceRecord,
        save_account_region,
    )

    groups: dict[tuple[str, str], list[InstanceRecord]] = {}
    for account, region, instance_id, name, state, platform, ping, tags in rows:
        groups.setdefault((account, region), []).append(
            InstanceRecord(
                instance_id=instance_id,
                name=name,
                state=state,
                platform=platform,
                ping_status=ping,
                ssm_managed=ping != "NotManaged",
                tags={"Name": name, **tags},
                private_ip="10.0.0.1",
            )
        )
    async with database.session() as session:
        for (account, region), records in groups.items():
            await save_account_region(session, account, region, records, job_id="test")


@pytest.fixture
async def client(pcm_migrated_database: Any, pcm_admin_client: Any) -> Any:
    await seed_fleet(pcm_migrated_database)
    return pcm_admin_client


async def names(client: Any, **params: Any) -> list[str]:
    response = await client.get(f"{API}/inventory/instances", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["db-1", "mac-1", "web-1", "web-2", "WEB-3", "win-1"]),
        ({"account_id": B}, ["mac-1", "WEB-3"]),
        ({"region": "eu-west-1"}, ["win-1"]),
        ({"state": "stopped"}, ["web-2"]),
        (
            {"state": ["stopped", "RUNNING"], "platform": "linux"},
            ["db-1", "web-1", "web-2", "WEB-3"],
        ),
        ({"platform": ["Windows", "MacOS"]}, ["mac-1", "win-1"]),
        ({"ping_status": "online"}, ["web-1", "WEB-3", "win-1"]),
        ({"ping_status": ["NotManaged", "Inactive"]}, ["db-1", "mac-1"]),
        ({"tag": "env=prod"}, ["web-1", "web-2", "win-1"]),
        ({"tag": ["env=prod", "team=web"]}, ["web-1"]),
        ({"tag": "team"}, ["mac-1", "web-1"]),
        ({"tag": "os="}, ["win-1"]),
        ({"q": "web"}, ["web-1", "web-2", "WEB-3"]),
        ({"q": "0000000005E"}, ["mac-1"]),
        ({"q": "%"}, []),
        ({"account_id": A, "region": "us-east-1", "ping_status": "Online"}, ["web-1"]),
    ],
)
async def test_each_filter_narrows_the_list(
    client: Any, params: dict[str, Any], expected: list[str]
) -> None:
    found = await names(client, **params)

    assert sorted(found, key=str.casefold) == sorted(expected, key=str.casefold)


async def test_pages_follow_each_other_without_overlap(client: Any) -> None:
    first = (await client.get(f"{API}/inventory/instances", params={"limit": 4})).json()
    second = (
        await client.get(
            f"{API}/inventory/instances", params={"limit": 4, "offset": first["next_offset"]}
        )
    ).json()

    assert (first["total"], first["next_offset"], len(first["items"])) == (6, 4, 4)
    assert (second["total"], second["next_offset"], len(second["items"])) == (6, None, 2)
    ids = [i["instance_id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 6


@sqlite_only
async def test_instances_sort_by_a_column_either_way(client: Any) -> None:
    by_id = await names(client, sort="instance_id")
    by_id_desc = await names(client, sort="instance_id", order="desc")
    by_state = await names(client, sort="state", order="desc", limit=1)

    assert by_id == ["web-1", "web-2", "db-1", "win-1", "mac-1", "WEB-3"]
    assert by_id_desc == list(reversed(by_id))
    assert by_state == ["web-2"]


@sqlite_only
@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"account_id": "12345"}, "account_id", "is not an AWS account id"),
        ({"region": "mars-1"}, "region", "is not an AWS region name"),
        ({"state": "asleep"}, "state", "is not an EC2 instance state"),
        ({"platform": "BeOS"}, "platform", "is not a platform"),
        ({"ping_status": "Maybe"}, "ping_status", "is not an SSM ping status"),
        ({"tag": "=prod"}, "tag", "a tag filter is 'key=value' or 'key'"),
        ({"sort": "colour"}, "sort", "is not a sort key"),
        ({"order": "sideways"}, "order", "'asc' or 'desc'"),
        ({"limit": 501}, "limit", "less than or equal to 500"),
    ],
)
async def test_a_bad_filter_is_a_422_naming_the_parameter(
    client: Any, params: dict[str, Any], field: str, words: str
) -> None:
    response = await client.get(f"{API}/inventory/instances", params=params)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", field]
    assert words in error["msg"]


async def test_one_instance_is_found_by_account_region_and_id(client: Any) -> None:
    found = await client.get(f"{API}/inventory/instances/{A}/eu-west-1/i-0000000000000004d")
    missing = await client.get(f"{API}/inventory/instances/{A}/us-east-1/i-0000000000000004d")

    assert found.status_code == 200
    assert found.json()["tags"] == {"Name": "win-1", "env": "prod", "os": ""}
    assert missing.status_code == 404


async def test_matching_instances_and_ids_resolve_what_an_execution_targets(
    pcm_migrated_database: Any,
) -> None:
    from pcm_aws_script_runner.services import inventory

    await seed_fleet(pcm_migrated_database)
    async with pcm_migrated_database.session() as session:
        matching = await inventory.matching_instances(
            session,
            inventory.InventoryFilter(tags=[{"key": "env", "value": "prod"}], states=["running"]),
        )
        by_id = await inventory.instances_by_ids(
            session, ["i-0000000000000005e", "i-unknown", "i-0000000000000005e"]
        )

    assert [row.name for row in matching] == ["win-1", "web-1"]  # by account, region, id
    assert list(by_id) == ["i-0000000000000005e"]
    assert by_id["i-0000000000000005e"].account_id == B


async def test_saved_filters_are_created_counted_changed_and_deleted(client: Any) -> None:
    created = await client.post(
        f"{API}/inventory/filters",
        json={
            "name": "Prod Linux",
            "filter": {"tags": [{"key": "env", "value": "prod"}], "platforms": ["linux"]},
        },
    )
    filter_id = created.json()["id"]
    duplicate = await client.post(f"{API}/inventory/filters", json={"name": "prod linux"})
    changed = await client.put(
        f"{API}/inventory/filters/{filter_id}", json={"filter": {"states": ["running"]}}
    )
    listed = await client.get(f"{API}/inventory/filters")
    deleted = await client.delete(f"{API}/inventory/filters/{filter_id}")
    gone = await client.get(f"{API}/inventory/filters/{filter_id}")
    audit = await client.get(
        "/api/audit", params={"action": "aws-script-runner.saved_filter.create"}
    )

    assert created.status_code == 201, created.text
    assert created.json()["filter"]["platforms"] == ["Linux"]
    assert created.json()["matching"] == 2
    assert duplicate.status_code == 409
    assert changed.json()["matching"] == 5
    assert changed.json()["name"] == "Prod Linux"
    assert [f["name"] for f in listed.json()] == ["Prod Linux"]
    assert (deleted.status_code, gone.status_code) == (204, 404)
    assert audit.status_code == 200
    assert "aws-script-runner.saved_filter.create" in audit.text


@sqlite_only
async def test_a_saved_filter_with_a_bad_field_is_refused_naming_it(client: Any) -> None:
    response = await client.post(
        f"{API}/inventory/filters",
        json={"name": "bad", "filter": {"account_ids": ["111100000001", "nope"]}},
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "filter", "account_ids", 1]
    assert "is not an AWS account id" in error["msg"]


async def test_a_filter_preview_counts_the_matches(client: Any) -> None:
    response = await client.post(
        f"{API}/inventory/filters/preview", json={"ping_statuses": ["Online"]}
    )

    assert response.status_code == 200
    assert response.json()["total"] == 3


@sqlite_only
async def test_viewers_read_saved_filters_but_may_not_change_them(
    client: Any, pcm_auth_headers: Any
) -> None:
    viewer = await pcm_auth_headers("viewer")

    listed = await client.get(f"{API}/inventory/filters", headers=viewer)
    created = await client.post(f"{API}/inventory/filters", json={"name": "x"}, headers=viewer)

    assert listed.status_code == 200
    assert created.status_code == 403
