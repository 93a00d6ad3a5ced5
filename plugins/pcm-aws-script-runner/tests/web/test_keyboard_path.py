"""Keyboard only, in a real browser: log in, filter the fleet, select an instance, preview
the run, run it and watch it finish, with Tab, Shift+Tab, Enter, Space and typing (no mouse
click). Each control the path needs is reached by Tab and shows where the focus is.

Debian's Chromium through Playwright (skipped without it), against the app served over HTTP.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome
from pcm_ops.testing.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.pcm_plugins("aws-common", "aws-script-runner")]

PAGES = "/tools/aws/script-runner"
PASSWORD = "a long enough password"
#: At most this many Tab presses to reach a control: a page whose control is further away
#: (or never reached) fails, instead of the test tabbing for ever.
MAX_TABS = 80

#: Whether the focused element shows it: an outline or a ring (box-shadow) of its own.
FOCUS_SHOWN = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return false;
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return element.matches(":focus-visible") && (outline || style.boxShadow !== "none");
}"""


async def tab_to(page: Any, selector: str, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab with ``backwards``) until the element matching ``selector`` has
    the focus; fails when it is not reached within :data:`MAX_TABS` presses, or does not show
    its focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        await page.keyboard.press(key)
        if await page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            assert await page.evaluate(FOCUS_SHOWN), f"the focus on {selector} is not shown"
            return
    raise AssertionError(f"{selector} is not reached with {key} in {MAX_TABS} presses")


async def test_filter_select_preview_run_and_watch_with_the_keyboard_only(
    pcm_chromium, make_fleet, moto_aws, pcm_migrated_database, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    expect = async_api.expect
    from pcm_ops.security.users import create_user

    fleet = await make_fleet(us_east_1=3, eu_west_1=2)
    await fleet.script()
    await fleet.script("uptime", body="uptime\n", parameters=[])
    chosen = sorted(fleet.instances["eu-west-1"])[0]
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success", output="typed, not clicked"))
    async with pcm_migrated_database.session() as session:
        await create_user(session, "kim", PASSWORD, "operator")

    async with browser_page(
        pcm_chromium, pcm_live_server, timeout_ms=15_000, viewport={"width": 1400, "height": 900}
    ) as browser:
        page = browser.page
        # Log in.
        await page.goto(f"{pcm_live_server}/login")
        await tab_to(page, "#username, [name=username]")
        await page.keyboard.type("kim")
        await tab_to(page, "[name=password]")
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{pcm_live_server}/")

        # The Fleet, from the navigation.
        await tab_to(page, f'a[href="{PAGES}/inventory"]')
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**{PAGES}/inventory")

        # Filter: a region, chosen in the list with the keyboard, then Filter.
        await tab_to(page, "#fleet-region")
        await page.keyboard.press("Home")
        for _ in range(10):
            if await page.evaluate(
                "() => document.querySelector('#fleet-region').value === 'eu-west-1'"
            ):
                break
            await page.keyboard.press("ArrowDown")
        await tab_to(page, "button.sr-filters__submit")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/inventory?*region=eu-west-1*")
        await expect(page.locator("tr.sr-instance")).to_have_count(2)

        # Select one instance: the count follows, Run becomes available.
        await tab_to(page, f'input[name=instance_id][value="{chosen}"]')
        await page.keyboard.press("Space")
        await expect(page.locator("#selected-count")).to_have_text("1 selected")
        await tab_to(page, "#run-selected-button")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/executions/new?*")
        await expect(page.get_by_text("1 instance chosen by id")).to_be_visible()

        # Choose the other script: the form reloads for it and the focus stays on the
        # list; Shift+Tab goes back to it from further down the form.
        await tab_to(page, "#comment")
        await tab_to(page, "#script_id", backwards=True)
        await page.keyboard.press("ArrowDown")
        await expect(page.locator("#run-parameters")).to_contain_text(
            "This version declares no parameters."
        )
        await expect(page.locator("#script_id")).to_be_focused()

        # Preview: the plan is shown, and the focus goes to it.
        await tab_to(page, "button[value=preview]")
        await page.keyboard.press("Enter")
        await expect(page.locator("#preview-instances")).to_have_text("1")
        await expect(page.locator("#run-preview")).to_contain_text("uptime v1")
        await expect(page.locator("#run-preview")).to_be_focused()

        # Run, then watch it to the end.
        await tab_to(page, "button[value=run]")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(rf".*{PAGES}/executions/\d+$"))
        await expect(page.locator("#execution-status")).to_have_text("succeeded", timeout=30_000)
        row = page.locator(f'tr[data-instance="{chosen}"]')
        await expect(row.locator(".ex-instance-status")).to_have_text("Success")

    assert browser.problems == []
