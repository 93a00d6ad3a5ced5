"""records() reads every page: across short pages, with or without Link, up to a limit."""

import asyncio
import dataclasses

import httpx
import pytest

from pcm_servicenow_cmdb.client import ConnectionSettings, ServiceNowClient, ServiceNowUnavailable
from pcm_servicenow_cmdb.query import Query


def add_changes(servicenow, count):
    return [
        servicenow.add("change_request", number=f"CHG{i:07d}", short_description=f"Change {i}")
        for i in range(1, count + 1)
    ]


def numbers(records):
    return [record["number"] for record in records]


async def test_every_page_is_read(connect, servicenow):
    add_changes(servicenow, 10)
    async with connect() as client:
        records = await client.records("change_request", fields=["number"], page_size=3)
    assert numbers(records) == [f"CHG{i:07d}" for i in range(1, 11)]
    assert client.request_count == 4
    offsets = [p["sysparm_offset"] for p in servicenow.table_requests("change_request")]
    assert offsets == ["0", "3", "6", "9"]


async def test_short_pages_mid_way_do_not_end_the_reading(connect, servicenow):
    ids = add_changes(servicenow, 9)
    for hidden in (ids[1], ids[2], ids[4]):
        servicenow.hide("change_request", hidden)
    async with connect() as client:
        records = await client.records(
            "change_request", query=Query().order_by("number"), fields=["number"], page_size=3
        )
    assert numbers(records) == ["CHG0000001", "CHG0000004", "CHG0000006", "CHG0000007",
                                "CHG0000008", "CHG0000009"]  # fmt: skip
    assert client.request_count == 3


async def test_an_empty_page_mid_way_does_not_end_the_reading(connect, servicenow):
    ids = add_changes(servicenow, 6)
    for hidden in ids[2:4]:
        servicenow.hide("change_request", hidden)
    async with connect() as client:
        records = await client.records("change_request", fields=["number"], page_size=2)
    assert numbers(records) == ["CHG0000001", "CHG0000002", "CHG0000005", "CHG0000006"]


async def test_a_single_page_comes_without_link(connect, servicenow):
    add_changes(servicenow, 3)
    async with connect() as client:
        records = await client.records("change_request", page_size=100)
    assert len(records) == 3
    assert client.request_count == 1


async def test_reading_stops_at_the_limit(connect, servicenow):
    add_changes(servicenow, 10)
    async with connect() as client:
        records = await client.records("change_request", fields=["number"], page_size=3, limit=5)
    assert numbers(records) == [f"CHG{i:07d}" for i in range(1, 6)]
    assert client.request_count == 2


async def test_a_limit_below_the_page_size_asks_for_that_many(connect, servicenow):
    add_changes(servicenow, 10)
    async with connect() as client:
        records = await client.records("change_request", limit=2)
    assert len(records) == 2
    assert servicenow.table_requests("change_request")[0]["sysparm_limit"] == "2"


async def test_parameters_are_sent_as_servicenow_names_them(connect, servicenow):
    async with connect() as client:
        await client.records(
            "change_request",
            query=Query().eq("state", -1),
            fields=["number", "state"],
            display_value="all",
            exclude_reference_link=False,
            page_size=50,
        )
    assert servicenow.table_requests("change_request") == [
        {
            "sysparm_query": "state=-1",
            "sysparm_fields": "number,state",
            "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "false",
            "sysparm_limit": "50",
            "sysparm_offset": "0",
        }
    ]


def paged_transport(total, pages, *, link=True, count=True, next_host="sn.example"):
    """A transport serving ``pages`` (lists of numbers) with the headers chosen."""
    seen = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        offset = int(request.url.params["sysparm_offset"])
        limit = int(request.url.params["sysparm_limit"])
        page = pages.get(offset, [])
        headers = {}
        if count:
            headers["X-Total-Count"] = str(total)
        if link and offset + limit < total:
            headers["Link"] = (
                f'<https://{next_host}/api/now/table/x?sysparm_offset=0>;rel="first",'
                f"<https://{next_host}/api/now/table/x?sysparm_limit={limit}"
                f'&sysparm_offset={offset + limit}>;rel="next"'
            )
        return httpx.Response(200, json={"result": [{"n": n} for n in page]}, headers=headers)

    return httpx.MockTransport(handle), seen


SETTINGS = ConnectionSettings(
    name="mock", base_url="https://sn.example", auth_kind="basic", username="u", password="p"
)
PAGES = {0: [1, 2], 2: [3], 4: [5, 6], 6: [7]}


@pytest.mark.parametrize(
    ("link", "count"), [(True, True), (True, False), (False, True)], ids=["both", "link", "count"]
)
async def test_paging_by_link_or_by_count(link, count):
    transport, seen = paged_transport(7, PAGES, link=link, count=count)
    async with ServiceNowClient(SETTINGS, transport=transport) as client:
        records = await client.records("x", page_size=2)
    assert [r["n"] for r in records] == [1, 2, 3, 5, 6, 7]
    assert [url.params["sysparm_offset"] for url in seen] == ["0", "2", "4", "6"]


async def test_without_link_or_count_one_page_is_all():
    transport, seen = paged_transport(7, PAGES, link=False, count=False)
    async with ServiceNowClient(SETTINGS, transport=transport) as client:
        records = await client.records("x", page_size=2)
    assert [r["n"] for r in records] == [1, 2]
    assert len(seen) == 1


async def test_a_link_to_another_host_is_read_on_this_connection_only():
    transport, seen = paged_transport(4, PAGES, count=False, next_host="evil.example")
    async with ServiceNowClient(SETTINGS, transport=transport) as client:
        await client.records("x", page_size=2)
    assert {url.host for url in seen} == {"sn.example"}
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda c: c.records("change request"), "not a ServiceNow table name"),
        (lambda c: c.records("change_request", page_size=0), "page_size"),
        (lambda c: c.records("change_request", limit=0), "limit"),
        (lambda c: c.records("change_request", display_value="yes"), "display_value"),
        (lambda c: c.record("change_request", "../sys_user"), "not a sys_id"),
        (lambda c: c.patch("change_request", "A" * 32, {}), "not a sys_id"),
    ],
)
async def test_arguments_are_validated_before_any_request(call, problem):
    transport, seen = paged_transport(0, {})
    async with ServiceNowClient(SETTINGS, transport=transport) as client:
        with pytest.raises(ValueError, match=problem):
            await call(client)
    assert seen == []


async def test_pages_can_be_read_side_by_side(connect, servicenow):
    ids = add_changes(servicenow, 10)
    servicenow.hide("change_request", ids[4])
    servicenow.set_latency(0.05)
    async with connect() as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        records = await client.records(
            "change_request", fields=["number"], page_size=2, concurrency=4
        )
        elapsed = loop.time() - started
    expected = [f"CHG{i:07d}" for i in range(1, 11) if i != 5]
    assert numbers(records) == expected
    assert client.request_count == 5
    assert elapsed < 0.05 * 4  # the first page, then four side by side: two round trips


async def test_side_by_side_reading_stops_at_the_limit(connect, servicenow):
    add_changes(servicenow, 20)
    async with connect() as client:
        records = await client.records(
            "change_request", fields=["number"], page_size=3, limit=7, concurrency=5
        )
    assert numbers(records) == [f"CHG{i:07d}" for i in range(1, 8)]
    assert client.request_count == 3


async def test_side_by_side_reading_goes_on_when_pages_came_short(connect, servicenow):
    ids = add_changes(servicenow, 12)
    for hidden in ids[2:6]:
        servicenow.hide("change_request", hidden)
    async with connect() as client:
        records = await client.records(
            "change_request", fields=["number"], page_size=2, limit=6, concurrency=3
        )
    assert numbers(records) == ["CHG0000001", "CHG0000002", "CHG0000007", "CHG0000008",
                                "CHG0000009", "CHG0000010"]  # fmt: skip
    offsets = sorted(int(p["sysparm_offset"]) for p in servicenow.table_requests("change_request"))
    assert offsets == [0, 2, 4, 6, 8]


async def test_each_call_has_its_own_budget(connect, servicenow, sleep):
    add_changes(servicenow, 2)
    async with connect(retry_budget_seconds=3) as client:
        for _ in range(2):
            servicenow.fail_next(429, retry_after=2)
            assert len(await client.records("change_request")) == 2
    assert sleep.waits == [2, 2]


async def test_the_pages_of_one_call_share_its_budget(sleep):
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(200, json={"result": [{}, {}]}, headers={"X-Total-Count": "4"}),
            httpx.Response(429, headers={"Retry-After": "2"}),
        ]
    )
    transport = httpx.MockTransport(lambda request: next(answers))
    settings = dataclasses.replace(SETTINGS, retry_budget_seconds=3)
    async with ServiceNowClient(settings, transport=transport, sleep=sleep) as client:
        with pytest.raises(ServiceNowUnavailable, match="retry budget 3 s"):
            await client.records("x", page_size=2)
    assert sleep.waits == [2]
