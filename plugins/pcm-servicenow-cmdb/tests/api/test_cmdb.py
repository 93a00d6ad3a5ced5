"""``/cis``: CMDB lookups by instance id, IP address or name, with placement and the
changes affecting the CI."""

from __future__ import annotations

import pytest

API = "/api/tools/servicenow/cmdb"


@pytest.fixture
def cmdb(connected):
    sn = connected
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id="123456789012")
    region = sn.add("cmdb_ci_aws_datacenter", name="us-gov-west-1", region="us-gov-west-1")
    sn.relate(region, account)
    vm = sn.add(
        "cmdb_ci_vm_instance",
        name="gov-web-1",
        object_id="i-0abc0abc0abc0abc0",
        ip_address="10.1.2.3",
    )
    sn.relate(vm, region)
    change = sn.add("change_request", short_description="Patch gov web", state="-1")
    sn.add("task_ci", task=change, ci_item=vm)
    return sn.get(change)["number"]


@pytest.mark.parametrize(
    ("q", "matched_by"),
    [
        ("i-0abc0abc0abc0abc0", "instance id"),
        ("10.1.2.3", "IP address"),
        ("gov-web-1", "name or host name"),
    ],
)
async def test_a_ci_is_found_with_its_placement_and_changes(pcm_admin_client, cmdb, q, matched_by):
    response = await pcm_admin_client.get(f"{API}/cis", params={"q": q})

    assert response.status_code == 200, response.text
    [found] = response.json()
    assert found["matched_by"] == matched_by
    assert (found["ci"]["instance_id"], found["ci"]["account_id"], found["ci"]["region"]) == (
        "i-0abc0abc0abc0abc0",
        "123456789012",
        "us-gov-west-1",
    )
    assert [change["number"] for change in found["changes"]] == [cmdb]


async def test_nothing_found_is_404_and_nonsense_is_422(pcm_admin_client, cmdb):
    missing = await pcm_admin_client.get(f"{API}/cis", params={"q": "10.9.9.9"})
    nonsense = await pcm_admin_client.get(f"{API}/cis", params={"q": "x^ORname=*"})

    assert missing.status_code == 404
    assert "no configuration item with IP address '10.9.9.9'" in missing.json()["detail"]
    assert nonsense.status_code == 422
    assert nonsense.json()["detail"][0]["loc"] == ["body", "q"]
