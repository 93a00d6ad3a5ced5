"""End to end in a real browser: an operator opens an approved ServiceNow change, sees its
affected CIs mapped to EC2 instances, runs a script on them from the change's page, watches
the run succeed, and finds the run's work notes on the change.

Debian's Chromium (``$PCM_TEST_CHROMIUM``, default ``/usr/bin/chromium``) driven by
Playwright, against the application served by uvicorn on a free loopback port, in the test's
event loop (the job engine and the database live there), with the fake AWS and the fake
ServiceNow over real HTTP. Playwright never downloads a browser; the test is skipped without
Chromium. The server sends its real Content-Security-Policy: a blocked inline script or
style would be a console error.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pcm_ops.testing.browser import browser_page

pytestmark = pytest.mark.browser

PAGES = "/tools/servicenow/cmdb"
RUNS = "/tools/aws/script-runner/executions"
PASSWORD = "a long enough password"
SERVICENOW_TIME = "%Y-%m-%d %H:%M:%S"
#: How long the change page may take to show the run's notes (they are written by a job).
NOTES_SECONDS = 10.0


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner", "servicenow-cmdb"]


@pytest.fixture
def pcm_settings(make_pcm_settings, moto_aws, monkeypatch):
    """aws-common pointed at the fake AWS; quick polls, jobs and work-note retries."""
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    monkeypatch.setenv("PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS", "0.05")
    monkeypatch.setenv("PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS", "0.2")
    return make_pcm_settings(
        jobs_queue_poll_seconds=0.05,
        jobs_heartbeat_seconds=0.5,
        jobs_event_poll_seconds=0.1,
        plugin_sections={
            "servicenow-cmdb": {"work_note_retry_seconds": 0.2, "work_note_retry_max_seconds": 0.5}
        },
    )


def approved_change(sn: Any, account_id: str, instances: dict[str, list[str]]) -> str:
    """An approved normal change in Implement, its window open now, affecting one VM
    instance CI per EC2 instance (each *Hosted on* its region, *Hosted on* the account);
    its sys_id."""
    account = sn.add("cmdb_ci_cloud_service_account", name="prod", account_id=account_id)
    now = datetime.now(UTC)
    change = sn.add(
        "change_request",
        short_description="Patch the web servers",
        type="normal",
        state="-1",
        approval="approved",
        on_hold="false",
        start_date=(now - timedelta(hours=1)).strftime(SERVICENOW_TIME),
        end_date=(now + timedelta(hours=2)).strftime(SERVICENOW_TIME),
    )
    for region, ids in instances.items():
        if not ids:
            continue
        datacenter = sn.add("cmdb_ci_aws_datacenter", name=region, region=region)
        sn.relate(datacenter, account)
        for n, instance_id in enumerate(ids):
            vm = sn.add("cmdb_ci_vm_instance", name=f"web-{n}", object_id=instance_id)
            sn.relate(vm, datacenter)
            sn.add("task_ci", task=change, ci_item=vm)
    return change


async def test_an_operator_runs_a_changes_script_and_sees_its_work_notes_on_the_change(
    pcm_chromium, connected, aws_sr_fleet, pcm_migrated_database, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.security.users import create_user

    fleet = await aws_sr_fleet(us_east_1=2)
    await fleet.script("hello")
    ids = fleet.all_ids()
    change = approved_change(connected, fleet.account_id, fleet.instances)
    number = connected.get(change)["number"]
    async with pcm_migrated_database.session() as session:
        await create_user(session, "olivia", PASSWORD, "operator")

    expect = async_api.expect
    async with browser_page(pcm_chromium, pcm_live_server) as browser:
        page = browser.page
        await browser.log_in("olivia", PASSWORD)

        # The change's page: its CIs, each on the EC2 instance it maps to.
        change_url = f"{pcm_live_server}{PAGES}/changes/{number}"
        await page.goto(change_url)
        await expect(page.get_by_role("heading", level=1)).to_contain_text(number)
        await expect(page.get_by_text("2 CI(s); 2 map to an EC2 instance.")).to_be_visible()
        for instance_id in ids:
            row = page.get_by_role("row").filter(has_text=instance_id)
            await expect(row).to_have_count(1)
            await expect(row).to_contain_text(fleet.account_id)
            await expect(row).to_contain_text("us-east-1")

        # The run form opens on those instances with the change filled in.
        await page.get_by_role("link", name="Run a script on these servers").click()
        await page.wait_for_url(f"{pcm_live_server}{RUNS}/new?*")
        await expect(page.get_by_label("Change reference")).to_have_value(number)
        await page.get_by_label("Script", exact=True).select_option(label="hello")
        # Choosing the script reloads the form (htmx) with its parameters.
        await expect(page.get_by_label("who")).to_have_attribute("placeholder", "default: world")
        await expect(page.get_by_label("Change reference")).to_have_value(number)
        await expect(page.get_by_text(f"Target source servicenow-change: {number}")).to_be_visible()
        await page.get_by_label("Comment").fill("from the change page")
        await page.get_by_role("button", name="Run", exact=True).click()
        await page.wait_for_url(re.compile(rf"{re.escape(pcm_live_server)}{RUNS}/\d+$"))
        execution_id = int(page.url.rsplit("/", 1)[1])
        await expect(page.locator("#execution-status")).to_have_text("succeeded", timeout=20_000)
        await expect(page.locator('[data-count="Success"] .ex-counter__n')).to_have_text("2")

        # Back on the change's page, the run's work notes: written by a job once the
        # run has ended, and read past the page's cache by its refresh link.
        note = f"[PCM-Ops] Execution #{execution_id} succeeded"
        await page.goto(change_url)
        deadline = asyncio.get_running_loop().time() + NOTES_SECONDS
        while not await page.get_by_text(note).count():
            assert asyncio.get_running_loop().time() < deadline, (
                f"no {note!r} on the change page after {NOTES_SECONDS:g} s; "
                f"ServiceNow's journal: {connected.journal(change)}"
            )
            await asyncio.sleep(0.5)
            await page.get_by_role("link", name="Refresh from ServiceNow").click()
            await page.wait_for_load_state()
        await expect(page.get_by_text(note).first).to_be_visible()
        await expect(
            page.get_by_text(f"[PCM-Ops] Execution #{execution_id} started").first
        ).to_be_visible()

    assert browser.problems == []
