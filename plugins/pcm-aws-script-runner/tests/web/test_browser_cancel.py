"""In a real browser: cancelling a running execution goes through its confirmation page, and
the live page then follows the run to its end, with one spelling of Cancelled and no
message left saying it is still cancelling.

The setup is test_browser.py's: Debian's Chromium driven by Playwright against the served
application (skipped without Chromium), with the real Content-Security-Policy.
"""

from __future__ import annotations

import pytest

from pcm_aws_common.testing import InvocationOutcome
from pcm_ops.testing.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.pcm_plugins("aws-common", "aws-script-runner")]

PAGES = "/tools/aws/script-runner"


async def test_cancel_is_confirmed_then_followed_live_to_cancelled(
    make_fleet, moto_aws, pcm_migrated_database, pcm_live_server, pcm_chromium
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.security.users import create_user

    fleet = await make_fleet(us_east_1=2)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start()
    url = f"{pcm_live_server}{PAGES}/executions/{execution['id']}"
    async with pcm_migrated_database.session() as session:
        await create_user(session, "pat", "a long enough password", "operator")

    expect = async_api.expect
    async with browser_page(pcm_chromium, pcm_live_server) as browser:
        page = browser.page
        await browser.log_in("pat", "a long enough password")

        # A second tab watches the run: it learns of the cancel from the events only.
        watcher = await page.context.new_page()
        await watcher.goto(url)
        await expect(watcher.locator("#execution-cancel-requested")).to_be_hidden()

        await page.goto(url)
        await page.get_by_role("button", name="Cancel…").click()
        await page.wait_for_url(f"{url}/cancel*")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Cancel execution #{execution['id']}?"
        )
        await page.get_by_role("button", name=f"Cancel execution #{execution['id']}").click()
        await page.wait_for_url(url)

        cancelled = page.locator('tr[data-instance][data-status="Cancelled"]')
        await expect(cancelled).to_have_count(2, timeout=30_000)
        await expect(page.locator("#execution-status")).to_have_text("cancelled", timeout=15_000)
        await expect(page.locator('[data-field="status_details"]')).to_have_text(["", ""])
        await expect(page.get_by_text("Canceled", exact=True)).to_have_count(0)
        await expect(page.locator(".flash")).to_have_count(0)
        await expect(watcher.locator("#execution-status")).to_have_text("cancelled")
        await expect(watcher.locator("#execution-cancel-requested")).to_contain_text("by pat")
        await expect(watcher.get_by_text("Cancel requested", exact=True)).to_be_visible()
        live = await watcher.locator("#execution-cancel-requested").inner_text()
        await watcher.reload()
        assert await watcher.locator("#execution-cancel-requested").inner_text() == live

    assert browser.problems == []
