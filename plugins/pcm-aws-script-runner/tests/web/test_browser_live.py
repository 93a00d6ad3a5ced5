"""In a real browser: the execution page watched live to the end of a run shows what a
reload of it shows, field by field; its output rows are readable (contrast, width, no
wrapping) and their Copy button copies.

The setup is test_browser.py's: Debian's Chromium driven by Playwright against the served
application (skipped without Chromium), with the real Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome
from pcm_ops.testing.fixtures import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.pcm_plugins("aws-common", "aws-script-runner")]

PAGES = "/tools/aws/script-runner"
PASSWORD = "a long enough password"
#: How long each invocation stays InProgress: the page is open before the first ends.
RUNNING_SECONDS = 1.5
#: What the page shows for a time not reached yet.
NOT_YET = "\u2013"
#: WCAG 2 AA, normal text.
AA_CONTRAST = 4.5

LONG_LINE = "Filesystem      Size  Used Avail Use% Mounted on " + "x" * 400

#: Every field of the page that the run changes, as the reader sees it.
SNAPSHOT = """() => {
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : null);
  const shown = (el) => Boolean(el) && el.getClientRects().length > 0;
  const all = (selector) => Array.from(document.querySelectorAll(selector));
  const reason = document.getElementById("execution-reason");
  return {
    status: text(document.getElementById("execution-status")),
    reason: shown(reason) ? text(reason) : "",
    started: text(document.getElementById("execution-started")),
    finished: text(document.getElementById("execution-finished")),
    counts: all("#execution-counts [data-count]").filter(shown).map(text),
    batches: all("tr[data-batch]:not([data-instance])").map(text),
    instances: all("tr[data-instance]").map((row) => [row.dataset.status, text(row)]),
    outputs: all("tr[data-output-for]").map((row) => ({
      shown: shown(row),
      open: row.querySelector("details").open,
      stdout: shown(row.querySelector('[data-field="stdout"]'))
        ? row.querySelector('[data-field="stdout"]').textContent : null,
      stderr: shown(row.querySelector('[data-field="stderr"]'))
        ? row.querySelector('[data-field="stderr"]').textContent : null,
      note: shown(row.querySelector('[data-field="output_url"]'))
        ? text(row.querySelector('[data-field="output_url"]')) : null,
    })),
    cancel: shown(document.getElementById("cancel-form")),
    rerun: shown(document.getElementById("rerun-form")),
    liveNote: shown(document.getElementById("live-note")),
  };
}"""

#: The colours an element's text is drawn in and over (the first opaque background up).
COLOURS = """(element) => {
  const parse = (value) => value.match(/[\\d.]+/g).map(Number);
  let back = element;
  while (back && parse(getComputedStyle(back).backgroundColor)[3] === 0) {
    back = back.parentElement;
  }
  const background = back ? getComputedStyle(back).backgroundColor : "rgb(255, 255, 255)";
  return [parse(getComputedStyle(element).color), parse(background)];
}"""


def contrast(foreground: list[float], background: list[float]) -> float:
    """WCAG 2's contrast ratio of two sRGB colours."""

    def luminance(rgb: list[float]) -> float:
        def channel(value: float) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(v) for v in rgb[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def log_in(page: Any, server: str) -> None:
    await page.goto(f"{server}/login")
    await page.get_by_label("User name").fill("pat")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{server}/")


async def test_the_live_page_ends_as_a_reload_shows_it(
    pcm_chromium, make_fleet, moto_aws, pcm_migrated_database, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.security.users import create_user

    # A batch per region, one at a time, no error allowed: eu-west-1 succeeds, us-east-1
    # fails, and us-west-2 is then held back. Batches sent after the page has loaded, and
    # one never sent, so Sent, Started and the statuses all change under the reader's eyes.
    fleet = await make_fleet(eu_west_1=1, us_east_1=1, us_west_2=1)
    [fine], [failing] = (fleet.instances[r] for r in ("eu-west-1", "us-east-1"))
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Success", output=f"all good\n{LONG_LINE}"),
        instance_id=fine,
        after=RUNNING_SECONDS,
    )
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Failed", output="half done", error="disk full", exit_code=3),
        instance_id=failing,
        after=RUNNING_SECONDS,
    )
    async with pcm_migrated_database.session() as session:
        await create_user(session, "pat", PASSWORD, "operator")

    problems: list[str] = []
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            context = await browser.new_context(
                permissions=["clipboard-read", "clipboard-write"],
                viewport={"width": 1400, "height": 900},
            )
            page = await context.new_page()
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            expect = async_api.expect
            await log_in(page, pcm_live_server)

            execution = await fleet.start(max_concurrency=1, max_errors=0)
            url = f"{pcm_live_server}{PAGES}/executions/{execution['id']}"
            await page.goto(url)
            before = await page.evaluate(SNAPSHOT)
            assert before["finished"] == NOT_YET
            assert before["batches"][-1].endswith(NOT_YET), before["batches"]  # not sent yet
            await page.evaluate("window.pcmNotReloaded = true")

            await expect(page.locator("#execution-live")).to_have_attribute(
                "data-finished", "true", timeout=20_000
            )
            await expect(page.locator("#live-note")).to_be_hidden()
            assert await page.evaluate("window.pcmNotReloaded") is True
            live = await page.evaluate(SNAPSHOT)

            await page.reload()
            reloaded = await page.evaluate(SNAPSHOT)
            assert live == reloaded
            # What the reader came for is there, not only equal.
            assert reloaded["status"] == "failed"
            assert reloaded["finished"] != NOT_YET
            assert NOT_YET not in reloaded["batches"][0]
            assert NOT_YET not in reloaded["batches"][1]
            assert [status for status, _ in reloaded["instances"]] == [
                "Success",
                "Failed",
                "NotSent",
            ]
            assert reloaded["counts"] == ["1 Success", "1 Failed", "1 NotSent"]
            assert reloaded["outputs"][1]["stderr"] == "disk full"
            assert reloaded["rerun"] is True
            assert reloaded["cancel"] is False
        finally:
            await browser.close()

    assert problems == []


async def test_output_is_wide_unwrapped_readable_and_copyable(
    pcm_chromium, make_fleet, moto_aws, pcm_migrated_database, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.security.users import create_user

    fleet = await make_fleet(us_east_1=2)
    fine, failing = fleet.instances["us-east-1"]
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Success", output=f"all good\n{LONG_LINE}"), instance_id=fine
    )
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Failed", output="half done", error="disk full", exit_code=3),
        instance_id=failing,
    )
    execution = await fleet.start()
    await fleet.wait(execution["id"])
    async with pcm_migrated_database.session() as session:
        await create_user(session, "pat", PASSWORD, "operator")

    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            context = await browser.new_context(
                permissions=["clipboard-read", "clipboard-write"],
                viewport={"width": 1400, "height": 900},
            )
            page = await context.new_page()
            expect = async_api.expect
            await log_in(page, pcm_live_server)
            await page.goto(f"{pcm_live_server}{PAGES}/executions/{execution['id']}")

            failed_output = page.locator(f'tr[data-output-for="{failing}"]')
            stderr = failed_output.locator('[data-field="stderr"]')
            await expect(stderr).to_be_visible()  # a failure's output is unfolded
            fine_output = page.locator(f'tr[data-output-for="{fine}"]')
            await fine_output.locator("summary").click()
            stdout = fine_output.locator('[data-field="stdout"]')
            await expect(stdout).to_be_visible()

            # Readable: every text of the output rows has AA contrast, in every state.
            texts = [
                stderr,
                failed_output.locator('[data-field="stdout"]'),
                stdout,
                failed_output.locator(".ex-stream__label").last,
                failed_output.locator("summary"),
            ]
            for state in ("rest", "hover", "focus"):
                for element in texts:
                    if state == "hover":
                        await element.hover()
                    elif state == "focus":
                        await element.focus()
                    foreground, background = await element.evaluate(COLOURS)
                    ratio = contrast(foreground, background)
                    assert ratio >= AA_CONTRAST, (state, await element.inner_text(), ratio)

            # Wide: the output spans the table; long lines scroll instead of wrapping or
            # widening the table.
            table = await page.locator("#instance-table").bounding_box()
            details = await fine_output.locator("details").bounding_box()
            assert table is not None
            assert details is not None
            assert details["width"] >= 0.8 * table["width"]
            style = await stdout.evaluate(
                "(el) => [getComputedStyle(el).whiteSpace, getComputedStyle(el).fontFamily,"
                " el.scrollWidth > el.clientWidth, getComputedStyle(el).overflowX]"
            )
            assert style[0] == "pre"
            assert "mono" in style[1].lower()
            assert style[2] is True  # the long line scrolls...
            assert style[3] == "auto"
            wrap = await page.locator(".table-wrap").last.evaluate(
                "(el) => el.scrollWidth <= el.clientWidth"
            )
            assert wrap is True

            # Copyable: the button names what it copies and puts it on the clipboard.
            copy = page.get_by_role("button", name=f"Copy the standard error of {failing}")
            await copy.click()
            await expect(copy).to_have_text("Copied")
            assert await page.evaluate("navigator.clipboard.readText()") == "disk full"
        finally:
            await browser.close()
