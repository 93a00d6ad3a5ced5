"""``/changes``: the change browser and a change's affected CIs, mapped to EC2 instances
through the CMDB's relations, against the fake ServiceNow over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

API = "/api/tools/servicenow/cmdb"
FORMAT = "%Y-%m-%d %H:%M:%S"


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime(FORMAT)


@pytest.fixture
def change(connected):
    """An approved change in Implement, window open now, affecting two EC2 instances of one
    account-region and a Linux server the CMDB does not tie to an instance."""
    sn = connected
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id="123456789012")
    region = sn.add("cmdb_ci_aws_datacenter", name="eu-west-1", region="eu-west-1")
    sn.relate(region, account)
    vms = [
        sn.add(
            "cmdb_ci_vm_instance",
            name=f"web-{n}",
            object_id=f"i-0000000000000000{n}",
            ip_address=f"10.0.0.{n}",
        )
        for n in (1, 2)
    ]
    for vm in vms:
        sn.relate(vm, region)
    server = sn.add("cmdb_ci_linux_server", name="db-1", host_name="db-1", ip_address="10.0.0.9")
    number_id = sn.add(
        "change_request",
        short_description="Patch the web tier",
        type="normal",
        state="-1",
        approval="approved",
        start_date=at(-timedelta(hours=1)),
        end_date=at(timedelta(hours=1)),
        on_hold="false",
        risk="3",
    )
    for ci in (*vms, server):
        sn.add("task_ci", task=number_id, ci_item=ci)
    sn.add(
        "change_request",
        short_description="Rotate the keys",
        type="standard",
        state="-4",
        approval="requested",
        start_date=at(timedelta(days=2)),
        end_date=at(timedelta(days=2, hours=2)),
    )
    return sn.get(number_id)["number"]


async def test_changes_are_listed_and_filtered(pcm_admin_client, change):
    everything = await pcm_admin_client.get(f"{API}/changes")
    implementing = await pcm_admin_client.get(f"{API}/changes", params={"state": "-1"})
    open_now = await pcm_admin_client.get(f"{API}/changes", params={"open_now": "true"})
    by_words = await pcm_admin_client.get(f"{API}/changes", params={"q": "rotate keys"})
    by_number = await pcm_admin_client.get(f"{API}/changes", params={"q": change})

    assert everything.status_code == 200, everything.text
    assert sorted(c["short_description"] for c in everything.json()) == [
        "Patch the web tier",
        "Rotate the keys",
    ]
    assert [c["number"] for c in implementing.json()] == [change]
    assert implementing.json()[0]["state_label"] == "Implement"
    assert [c["number"] for c in open_now.json()] == [change]
    assert open_now.json()[0]["window_open"] is True
    assert [c["short_description"] for c in by_words.json()] == ["Rotate the keys"]
    assert [c["number"] for c in by_number.json()] == [change]


async def test_hostile_search_text_stays_one_condition(pcm_admin_client, change, servicenow):
    response = await pcm_admin_client.get(
        f"{API}/changes", params={"q": "x^ORshort_descriptionLIKEPatch"}
    )

    assert response.status_code == 200
    assert response.json() == []  # the ^OR did not widen the search


async def test_a_change_shows_its_cis_with_account_and_region(pcm_admin_client, change):
    response = await pcm_admin_client.get(f"{API}/changes/{change}")

    assert response.status_code == 200, response.text
    detail = response.json()
    assert (detail["approval"], detail["state_label"], detail["connection"]) == (
        "approved",
        "Implement",
        "acme",
    )
    mapped = {
        ci["name"]: (ci["instance_id"], ci["account_id"], ci["region"])
        for ci in detail["affected_cis"]
    }
    assert mapped == {
        "web-1": ("i-00000000000000001", "123456789012", "eu-west-1"),
        "web-2": ("i-00000000000000002", "123456789012", "eu-west-1"),
        "db-1": (None, None, None),
    }
    db = next(ci for ci in detail["affected_cis"] if ci["name"] == "db-1")
    assert (db["host_name"], db["ip_address"]) == ("db-1", "10.0.0.9")


async def test_an_unknown_change_is_404_and_a_bad_number_422(pcm_admin_client, connected):
    unknown = await pcm_admin_client.get(f"{API}/changes/CHG9999999")
    bad = await pcm_admin_client.get(f"{API}/changes/DROP-TABLE")
    state = await pcm_admin_client.get(f"{API}/changes", params={"state": "99"})

    assert unknown.status_code == 404
    assert "no change 'CHG9999999'" in unknown.json()["detail"]
    assert bad.status_code == 422
    assert state.status_code == 422


async def test_servicenow_down_is_a_502_naming_the_connection(pcm_admin_client, connected):
    connected.outage(True)

    response = await pcm_admin_client.get(f"{API}/changes")

    assert response.status_code == 502
    assert "connection 'acme'" in response.json()["detail"]


async def test_without_a_connection_the_browser_says_how_to_add_one(pcm_admin_client, servicenow):
    response = await pcm_admin_client.get(f"{API}/changes")

    assert response.status_code == 404
    assert "pcm-ops servicenow connections add" in response.json()["detail"]


async def test_answers_are_reused_for_a_while_and_a_refresh_asks_again(
    pcm_admin_client, change, servicenow
):
    def asked() -> int:
        return len(servicenow.table_requests("change_request"))

    await pcm_admin_client.get(f"{API}/changes")
    first = asked()
    await pcm_admin_client.get(f"{API}/changes")
    cached = asked()
    await pcm_admin_client.get(f"{API}/changes", params={"refresh": "true"})
    refreshed = asked()
    await pcm_admin_client.get(f"{API}/changes/{change}")
    await pcm_admin_client.get(f"{API}/changes/{change}")
    detail = asked()

    assert cached == first  # the second list came from the cache
    assert refreshed == first + 1
    assert detail == refreshed + 1  # the change page's reads were cached too
