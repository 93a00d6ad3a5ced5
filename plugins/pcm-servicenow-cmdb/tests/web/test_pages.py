"""The change browser and a change's page, as a browser asks for them; with the script
runner, the button that opens the run form on the change's instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

API = "/api/tools/servicenow/cmdb"
PAGES = "/tools/servicenow/cmdb"
HTML = {"Accept": "text/html"}


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner", "servicenow-cmdb"]


@pytest.fixture
def pcm_settings(moto_pcm_settings):
    return moto_pcm_settings


@pytest.fixture
def change(connected):
    sn = connected
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id="123456789012")
    region = sn.add("cmdb_ci_aws_datacenter", name="eu-west-1", region="eu-west-1")
    sn.relate(region, account)
    now = datetime.now(UTC)
    number_id = sn.add(
        "change_request",
        short_description="Patch <b>web</b>",
        state="-1",
        approval="approved",
        start_date=(now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        end_date=(now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
    )
    for n in (1, 2):
        vm = sn.add("cmdb_ci_vm_instance", name=f"web-{n}", object_id=f"i-{n:017x}")
        sn.relate(vm, region)
        sn.add("task_ci", task=number_id, ci_item=vm)
    server = sn.add("cmdb_ci_linux_server", name="db-1", ip_address="10.0.0.9")
    sn.add("task_ci", task=number_id, ci_item=server)
    return sn.get(number_id)["number"]


async def test_the_change_list_shows_changes_escaped_with_their_window(pcm_admin_client, change):
    page = await pcm_admin_client.get(f"{PAGES}/", headers=HTML)
    filtered = await pcm_admin_client.get(f"{PAGES}/", params={"state": "-4"}, headers=HTML)
    wrong = await pcm_admin_client.get(f"{PAGES}/", params={"state": "x"}, headers=HTML)

    assert page.status_code == 200, page.text
    assert f'<a href="{PAGES}/changes/{change}">{change}</a>' in page.text
    assert "Patch &lt;b&gt;web&lt;/b&gt;" in page.text  # ServiceNow's text is never markup
    assert "open now" in page.text
    assert "No changes match" in filtered.text
    assert wrong.status_code == 422
    assert "unknown state" in wrong.text
    assert change not in wrong.text  # a rejected filter shows no rows


async def test_a_change_page_lists_its_cis_and_opens_the_run_form_on_them(pcm_admin_client, change):
    page = await pcm_admin_client.get(f"{PAGES}/changes/{change}", headers=HTML)

    assert page.status_code == 200, page.text
    assert "3 CI(s); 2 map to an EC2 instance." in page.text
    assert "no instance in the inventory has IP address 10.0.0.9" in page.text
    href = page.text.split('<a class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    url = urlsplit(href)
    assert url.path == "/tools/aws/script-runner/executions/new"
    assert parse_qs(url.query) == {
        "target_source": ["servicenow-change"],
        "reference": [change],
        "change_reference": [change],
    }
    form = await pcm_admin_client.get(href, headers=HTML)
    assert form.status_code == 200
    assert f"Target source servicenow-change: {change}" in form.text
    # Read through another connection than the gate's, the link names the instances.
    other = await pcm_admin_client.get(
        f"{PAGES}/changes/{change}", params={"connection": "acme"}, headers=HTML
    )
    href = other.text.split('<a class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {
        "instance_id": [f"i-{1:017x}", f"i-{2:017x}"],
        "change_reference": [change],
    }


async def test_viewers_see_the_change_but_no_run_button(pcm_auth_headers, pcm_client, change):
    viewer = {**await pcm_auth_headers("viewer"), **HTML}

    page = await pcm_client.get(f"{PAGES}/changes/{change}", headers=viewer)

    assert page.status_code == 200
    assert "Run a script on these servers" not in page.text


async def test_an_unknown_change_page_is_404(pcm_admin_client, change):
    page = await pcm_admin_client.get(f"{PAGES}/changes/CHG9999999", headers=HTML)

    assert page.status_code == 404
    assert "CHG9999999" in page.text
