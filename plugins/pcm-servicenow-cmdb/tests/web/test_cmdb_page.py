"""The CMDB lookup page: a CI found by name, instance id, IP address or host name, with its
class, where the CMDB places it, the EC2 instance it maps to and the changes affecting it
(linked to their pages), against the fake ServiceNow over HTTP."""

from __future__ import annotations

import pytest

PAGE = "/tools/servicenow/cmdb/cis"
HTML = {"Accept": "text/html"}


@pytest.fixture
def cmdb(connected):
    sn = connected
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id="123456789012")
    region = sn.add("cmdb_ci_aws_datacenter", name="eu-west-1", region="eu-west-1")
    sn.relate(region, account)
    vm = sn.add(
        "cmdb_ci_vm_instance",
        name="web-1",
        object_id="i-0abc0abc0abc0abc0",
        ip_address="10.1.2.3",
    )
    sn.relate(vm, region)
    sn.add("cmdb_ci_linux_server", name="db-1", host_name="db-host", ip_address="10.0.0.9")
    change = sn.add("change_request", short_description="Patch <i>web</i>", state="-1")
    sn.add("task_ci", task=change, ci_item=vm)
    return sn.get(change)["number"]


@pytest.mark.parametrize(
    ("q", "how"),
    [
        ("i-0abc0abc0abc0abc0", "instance id"),
        ("10.1.2.3", "IP address"),
        ("web-1", "name or host name"),
    ],
)
async def test_a_ci_is_shown_with_its_placement_mapping_and_changes(pcm_admin_client, cmdb, q, how):
    page = await pcm_admin_client.get(PAGE, params={"q": q}, headers=HTML)

    assert page.status_code == 200, page.text
    assert "web-1" in page.text
    assert "cmdb_ci_vm_instance" in page.text
    assert f"Found by {how}." in page.text
    assert "<dt>Account</dt><dd>123456789012</dd>" in page.text
    assert "<dt>Region</dt><dd>eu-west-1</dd>" in page.text
    # without the script runner, the CMDB's own instance id and placement map it
    assert "i-0abc0abc0abc0abc0 (web-1) in 123456789012 eu-west-1, SSM unknown" in page.text
    assert f'<a href="/tools/servicenow/cmdb/changes/{cmdb}">{cmdb}</a>' in page.text
    assert "Patch &lt;i&gt;web&lt;/i&gt;" in page.text


async def test_a_server_is_found_by_host_name(pcm_admin_client, cmdb):
    page = await pcm_admin_client.get(PAGE, params={"q": "db-host"}, headers=HTML)

    assert page.status_code == 200, page.text
    assert "db-1" in page.text
    assert "cmdb_ci_linux_server" in page.text
    assert "<p>None.</p>" in page.text  # no change affects it


async def test_the_empty_page_is_a_search_box(pcm_admin_client, cmdb):
    page = await pcm_admin_client.get(PAGE, headers=HTML)

    assert page.status_code == 200
    assert 'role="search"' in page.text
    assert "Found by" not in page.text


async def test_nothing_found_and_nonsense_are_said_on_the_page(pcm_admin_client, cmdb):
    missing = await pcm_admin_client.get(PAGE, params={"q": "10.9.9.9"}, headers=HTML)
    nonsense = await pcm_admin_client.get(PAGE, params={"q": "x^ORname=*"}, headers=HTML)

    assert missing.status_code == 404
    assert "no configuration item with IP address &#39;10.9.9.9&#39;" in missing.text
    assert 'role="search"' in missing.text
    assert nonsense.status_code == 422
    assert 'id="q-problem"' in nonsense.text


async def test_viewers_may_look_up_and_see_the_nav_links(pcm_auth_headers, pcm_client, cmdb):
    viewer = {**await pcm_auth_headers("viewer"), **HTML}

    page = await pcm_client.get(PAGE, params={"q": "web-1"}, headers=viewer)

    assert page.status_code == 200
    assert 'href="/tools/servicenow/cmdb/cis"' in page.text
    assert 'href="/tools/servicenow/cmdb/connections"' in page.text
