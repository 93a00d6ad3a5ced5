"""Paging as ServiceNow does it: sysparm_limit/offset, X-Total-Count and Link."""

import re

import httpx


def add_changes(servicenow, count):
    return [
        servicenow.add("change_request", number=f"CHG{i:07d}", short_description=f"Change {i}")
        for i in range(1, count + 1)
    ]


def links(response):
    return {
        rel: dict(httpx.URL(url).params)
        for url, rel in re.findall(r'<([^>]*)>;rel="(\w+)"', response.headers["Link"])
    }


def test_everything_in_one_page_has_a_count_and_no_link(api, servicenow):
    add_changes(servicenow, 3)
    response = api.get("/api/now/table/change_request", params={"sysparm_limit": 10})
    assert len(response.json()["result"]) == 3
    assert response.headers["X-Total-Count"] == "3"
    assert "Link" not in response.headers


def test_the_first_page_links_to_the_next_and_last(api, servicenow):
    add_changes(servicenow, 7)
    response = api.get(
        "/api/now/table/change_request",
        params={"sysparm_limit": 3, "sysparm_query": "ORDERBYnumber", "sysparm_fields": "number"},
    )
    assert [r["number"] for r in response.json()["result"]] == [
        "CHG0000001",
        "CHG0000002",
        "CHG0000003",
    ]
    assert response.headers["X-Total-Count"] == "7"
    pages = links(response)
    assert set(pages) == {"first", "next", "last"}
    assert pages["next"]["sysparm_offset"] == "3"
    assert pages["next"]["sysparm_limit"] == "3"
    assert pages["next"]["sysparm_query"] == "ORDERBYnumber"
    assert pages["last"]["sysparm_offset"] == "6"


def test_a_middle_page_links_back_and_on(api, servicenow):
    add_changes(servicenow, 7)
    response = api.get(
        "/api/now/table/change_request", params={"sysparm_limit": 3, "sysparm_offset": 3}
    )
    pages = links(response)
    assert set(pages) == {"first", "prev", "next", "last"}
    assert pages["prev"]["sysparm_offset"] == "0"
    assert pages["next"]["sysparm_offset"] == "6"


def test_the_last_page_has_no_next(api, servicenow):
    add_changes(servicenow, 7)
    response = api.get(
        "/api/now/table/change_request", params={"sysparm_limit": 3, "sysparm_offset": 6}
    )
    assert len(response.json()["result"]) == 1
    assert "next" not in links(response)


def test_the_link_points_at_the_fake(api, servicenow):
    add_changes(servicenow, 2)
    response = api.get("/api/now/table/change_request", params={"sysparm_limit": 1})
    assert response.headers["Link"].startswith(f"<{servicenow.url}/api/now/table/change_request?")


def test_hidden_records_count_but_are_dropped_from_their_page(api, servicenow):
    ids = add_changes(servicenow, 6)
    servicenow.hide("change_request", ids[1])
    servicenow.hide("change_request", ids[2])
    response = api.get(
        "/api/now/table/change_request",
        params={"sysparm_limit": 3, "sysparm_query": "ORDERBYnumber", "sysparm_fields": "number"},
    )
    assert response.json()["result"] == [{"number": "CHG0000001"}]
    assert response.headers["X-Total-Count"] == "6"
    assert links(response)["next"]["sysparm_offset"] == "3"


def test_a_page_can_be_empty_mid_way(api, servicenow):
    ids = add_changes(servicenow, 4)
    for sys_id in ids[:2]:
        servicenow.hide("change_request", sys_id)
    response = api.get("/api/now/table/change_request", params={"sysparm_limit": 2})
    assert response.json()["result"] == []
    assert "next" in links(response)


def test_the_default_limit_returns_everything(api, servicenow):
    add_changes(servicenow, 12)
    response = api.get("/api/now/table/change_request")
    assert len(response.json()["result"]) == 12


def test_a_bad_limit_is_a_400(api):
    response = api.get("/api/now/table/change_request", params={"sysparm_limit": "ten"})
    assert response.status_code == 400
