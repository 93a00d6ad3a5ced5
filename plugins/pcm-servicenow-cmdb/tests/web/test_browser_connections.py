"""The connections page and the CMDB lookup in a real browser: an admin adds a connection
(a refused password first, shown next to its field), tests it, changes it, looks a CI up and
follows it to its change, then removes the connection.

Debian's Chromium through Playwright against the application served on a loopback port,
with the fake ServiceNow over real HTTP; skipped without Chromium. The server sends its real
Content-Security-Policy: a blocked inline script or style would be a console error.
"""

from __future__ import annotations

import re

import pytest

from pcm_ops.testing.browser import browser_page
from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

pytestmark = pytest.mark.browser

PAGES = "/tools/servicenow/cmdb"
PASSWORD = "a long enough password"


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["servicenow-cmdb"]


async def test_an_admin_adds_tests_changes_and_removes_a_connection_and_looks_up_a_ci(
    pcm_chromium, servicenow, pcm_migrated_database, pcm_live_server
):
    playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    expect = playwright.expect
    from pcm_ops.security.users import create_user

    vm = servicenow.add("cmdb_ci_vm_instance", name="web-42", object_id="i-0000000000000042a")
    change = servicenow.add(
        "change_request", short_description="Patch web-42", state="-1", approval="approved"
    )
    servicenow.add("task_ci", task=change, ci_item=vm)
    number = servicenow.get(change)["number"]
    async with pcm_migrated_database.session() as session:
        await create_user(session, "ada", PASSWORD, "admin")

    async with browser_page(pcm_chromium, pcm_live_server) as browser:
        page = browser.page
        page.on("dialog", lambda dialog: dialog.accept())
        await browser.log_in("ada", PASSWORD)
        # Add: a wrong password comes back next to its field, nothing saved.
        await page.goto(f"{pcm_live_server}{PAGES}/connections")
        await page.get_by_label("Name", exact=True).fill("acme")
        await page.get_by_label("Instance address").fill(servicenow.url)
        await page.get_by_label("User name").fill(DEFAULT_USERNAME)
        await page.get_by_label("Password", exact=True).fill("wrong password")
        await page.get_by_role("button", name="Check and add").click()
        password = page.get_by_label("Password", exact=True)
        await expect(password).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#password-problem")).to_contain_text(
            "ServiceNow refused these credentials"
        )
        await expect(page.get_by_role("row").filter(has_text="acme")).to_have_count(0)
        await password.fill(DEFAULT_PASSWORD)
        await page.get_by_role("button", name="Check and add").click()
        await expect(page.get_by_text("Connection 'acme' added")).to_be_visible()
        row = page.get_by_role("row").filter(has_text="acme")
        await expect(row).to_contain_text("ok")

        # Test it now, then change its timeout (the password stays stored).
        await row.get_by_role("button", name="Test").click()
        await expect(page.get_by_text("Connection 'acme' works")).to_be_visible()
        await (
            page.get_by_role("row")
            .filter(has_text="acme")
            .get_by_role("link", name="Change")
            .click()
        )
        await expect(page.get_by_role("heading", level=1)).to_have_text("Change connection acme")
        await expect(page.get_by_text("Stored; leave blank to keep it.").first).to_be_visible()
        await page.get_by_label("Timeout (seconds)").fill("20")
        await page.get_by_role("button", name="Check and save").click()
        await expect(page.get_by_text("Connection 'acme' saved")).to_be_visible()

        # The CMDB lookup finds the CI by its instance id and links its change.
        await page.goto(f"{pcm_live_server}{PAGES}/cis")
        await page.get_by_label("Name, instance id, IP address or host name").fill(
            "i-0000000000000042a"
        )
        await page.get_by_role("button", name="Look up").click()
        await expect(page.get_by_text("web-42").first).to_be_visible()
        await page.get_by_role("link", name=number).click()
        await page.wait_for_url(re.compile(rf".*{PAGES}/changes/{number}$"))
        await expect(page.get_by_role("heading", level=1)).to_contain_text(number)

        # Remove it.
        await page.goto(f"{pcm_live_server}{PAGES}/connections")
        await (
            page.get_by_role("row")
            .filter(has_text="acme")
            .get_by_role("button", name="Remove")
            .click()
        )
        await expect(page.get_by_text("Connection 'acme' removed.")).to_be_visible()
        await expect(page.get_by_role("row").filter(has_text="acme")).to_have_count(0)
        assert DEFAULT_PASSWORD not in await page.content()

    # The refused form answers 422 (its problems, for scripts too): the only console line.
    assert [p for p in browser.problems if "status of 422" not in p] == []
    assert len(browser.problems) == 1
