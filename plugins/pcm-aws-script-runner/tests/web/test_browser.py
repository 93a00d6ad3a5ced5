"""End to end in a real browser: an operator starts a run from the form, and the execution
page turns its rows to Success as the results come in, without a reload.

Debian's Chromium (``$PCM_TEST_CHROMIUM``, default ``/usr/bin/chromium``) driven by
Playwright, against the application served by uvicorn on a free loopback port, in the test's
event loop (the job engine and the database live there). Playwright never downloads a
browser; the test is skipped without Chromium. The server sends its real
Content-Security-Policy: a blocked inline script or style would be a console error.
"""

from __future__ import annotations

import re

import pytest

from pcm_aws_common.testing import InvocationOutcome
from pcm_ops.testing.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.pcm_plugins("aws-common", "aws-script-runner")]

PAGES = "/tools/aws/script-runner"
#: How long every invocation stays InProgress: long enough to see the page before the end.
RUNNING_SECONDS = 4.0


async def test_the_execution_page_follows_the_run_live(
    make_fleet, moto_aws, pcm_migrated_database, pcm_live_server, pcm_chromium
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.security.users import create_user

    fleet = await make_fleet(us_east_1=3)
    script_id = await fleet.script()
    ids = fleet.all_ids()
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Success", output="hello from the browser test"), after=RUNNING_SECONDS
    )
    async with pcm_migrated_database.session() as session:
        await create_user(session, "pat", "a long enough password", "operator")
    query = "&".join([f"script_id={script_id}", *(f"instance_id={i}" for i in ids)])

    expect = async_api.expect
    async with browser_page(pcm_chromium, pcm_live_server) as browser:
        page = browser.page
        await browser.log_in("pat", "a long enough password")

        await page.goto(f"{pcm_live_server}{PAGES}/executions/new?{query}")
        await expect(page.get_by_text("3 instances chosen by id")).to_be_visible()
        await page.get_by_label("Comment").fill("from Chromium")
        await page.get_by_role("button", name="Run", exact=True).click()
        # The execution's own page: a glob like ".../executions/*" also matches the form's
        # URL (".../executions/new?..."), so the wait ended at once and a slow start (CI
        # under load) failed the next check.
        await page.wait_for_url(re.compile(rf".*{PAGES}/executions/\d+$"))

        # The page was rendered while the invocations were still running...
        live = page.locator("#execution-live")
        await expect(live).to_have_attribute("data-finished", "false")
        rows = page.locator("tr[data-instance]")
        await expect(rows).to_have_count(3)
        assert await page.locator('tr[data-instance][data-status="Success"]').count() == 0
        await page.evaluate("window.pcmNotReloaded = true")

        # ...and follows them to the end without a reload.
        success = page.locator('tr[data-instance][data-status="Success"]')
        await expect(success).to_have_count(3, timeout=30_000)
        for instance_id in ids:
            row = page.locator(f'tr[data-instance="{instance_id}"]')
            await expect(row.locator(".ex-instance-status")).to_have_text("Success")
            await expect(row.locator('[data-field="exit_code"]')).to_have_text("0")
            output = page.locator(f'tr[data-output-for="{instance_id}"]')
            await expect(output.locator('[data-field="stdout"]')).to_contain_text(
                "hello from the browser test"
            )
        await expect(page.locator("#execution-status")).to_have_text("succeeded", timeout=15_000)
        await expect(page.locator('[data-count="Success"] .ex-counter__n')).to_have_text("3")
        await expect(live).to_have_attribute("data-finished", "true")
        await expect(page.locator("#cancel-form")).to_be_hidden()
        assert await page.evaluate("window.pcmNotReloaded") is True

    assert browser.problems == []
