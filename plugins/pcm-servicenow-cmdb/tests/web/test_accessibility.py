"""Accessibility of the plugin's pages: axe-core (``pcm_ops.testing.accessibility``) finds
no serious or critical violation on the changes list, a change with its CIs, the
connections list, a connection's edit form and the CMDB lookup (a CI found and nothing
found), as an admin against the fake ServiceNow, in one Chromium session (Debian's,
through Playwright)."""

from __future__ import annotations

import pytest

from pcm_ops.testing.accessibility import axe_violations, describe_violations
from pcm_ops.testing.fixtures import CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True),
]

PAGES = "/tools/servicenow/cmdb"


def demo_like_cmdb(sn) -> str:
    """An account, a region, two servers and two changes (one affecting a server); the
    number of that change."""
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id="123456789012")
    region = sn.add("cmdb_ci_aws_datacenter", name="eu-west-1", region="eu-west-1")
    sn.relate(region, account)
    vm = sn.add(
        "cmdb_ci_vm_instance", name="web-1", object_id="i-0abc0abc0abc0abc0", ip_address="10.1.2.3"
    )
    sn.relate(vm, region)
    sn.add("cmdb_ci_linux_server", name="db-1", host_name="db-host", ip_address="10.0.0.9")
    change = sn.add(
        "change_request",
        short_description="Patch the web servers",
        type="normal",
        state="-1",
        approval="approved",
    )
    sn.add("task_ci", task=change, ci_item=vm)
    sn.add("change_request", short_description="Rotate certificates", state="-5")
    return sn.get(change)["number"]


async def test_no_page_has_serious_accessibility_violations(
    pcm_chromium, connected, pcm_admin_client, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    number = demo_like_cmdb(connected)
    listed = await pcm_admin_client.get("/api/tools/servicenow/cmdb/connections")
    connection_id = listed.json()[0]["id"]
    headers = {"Authorization": pcm_admin_client.headers["Authorization"]}

    found: dict[str, str] = {}
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            page = await browser.new_page(extra_http_headers=headers)
            page.set_default_timeout(10_000)
            for path in (
                "/",
                f"/changes/{number}",
                "/connections",
                f"/connections/{connection_id}/edit",
                "/cis",
                "/cis?q=web-1",
                "/cis?q=nothing-by-this-name",
            ):
                await page.goto(f"{pcm_live_server}{PAGES}{path}")
                violations = await axe_violations(page)
                if violations:
                    found[path] = describe_violations(violations, page.url)
        finally:
            await browser.close()

    assert not found, "\n\n".join(f"{name}:\n{text}" for name, text in found.items())
