"""The Fleet page in a real browser at a laptop's width (1400 x 900): the table fits without
sideways scrolling, the region list is shown whole, the tag boxes, "N selected" counted live,
and "Run a script on the selected instances" offered only with a selection.

Debian's Chromium through Playwright (skipped without it), against the app served over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from pcm_ops.testing.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.pcm_plugins("aws-common", "aws-script-runner")]

PAGES = "/tools/aws/script-runner"
PASSWORD = "a long enough password"
#: Tags like the demo's instances carry.
DEMO_TAGS = {
    "Name": "web-prod-01",
    "Environment": "production",
    "Team": "web",
    "Role": "frontend",
    "pcm-demo:outcome": "success",
}
EMPTY_REGIONS = ("ap-southeast-2", "eu-central-1", "us-gov-west-1")


async def demo_like_fleet(make_fleet: Any, database: Any) -> Any:
    """Seven instances with the demo's tags in three regions, and synced (empty) in three
    more, six like the demo's; the widest values a row shows: private IPs, platform details,
    agent versions, a lost SSM connection, an instance shutting down."""
    from sqlalchemy import update

    from pcm_aws_script_runner.models import AwsSrInstance
    from pcm_aws_script_runner.services.inventory.sync_writes import save_account_region

    fleet = await make_fleet(us_east_1=3, us_west_2=2, eu_west_1=2, tags=DEMO_TAGS)
    async with database.session() as session:
        for region in EMPTY_REGIONS:
            await save_account_region(session, fleet.account_id, region, [])
    async with database.session() as session:
        await session.exec(
            update(AwsSrInstance).values(
                private_ip="172.31.255.254",
                platform_details="Linux/UNIX",
                agent_version="3.3.1142.0",
            )
        )
        first, second = fleet.instances["us-east-1"][:2]
        await session.exec(
            update(AwsSrInstance)
            .where(AwsSrInstance.instance_id == first)
            .values(ping_status="ConnectionLost")
        )
        await session.exec(
            update(AwsSrInstance)
            .where(AwsSrInstance.instance_id == second)
            .values(state="shutting-down")
        )
    return fleet


@asynccontextmanager
async def fleet_page(
    pcm_chromium: Any, pcm_live_server: str, database: Any, query: str = ""
) -> AsyncIterator[Any]:
    """A logged-in operator's page on the Fleet, 1400 x 900; console errors fail the test."""
    from pcm_ops.security.users import create_user

    async with database.session() as session:
        await create_user(session, "pat", PASSWORD, "operator")
    viewport = {"width": 1400, "height": 900}
    async with browser_page(
        pcm_chromium, pcm_live_server, timeout_ms=15_000, viewport=viewport
    ) as browser:
        await browser.log_in("pat", PASSWORD)
        await browser.page.goto(f"{pcm_live_server}{PAGES}/inventory{query}")
        yield browser.page
    assert browser.problems == []


async def test_the_table_fits_at_1400_pixels_with_private_ip_and_synced_in_view(
    pcm_chromium, make_fleet, pcm_migrated_database, pcm_live_server
):
    await demo_like_fleet(make_fleet, pcm_migrated_database)

    async with fleet_page(pcm_chromium, pcm_live_server, pcm_migrated_database) as page:
        wrap = page.locator(".table-wrap:has(table.sr-fleet)")
        scroll_width, client_width = await wrap.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert scroll_width <= client_width
        visible = await wrap.bounding_box()
        assert visible is not None
        for heading in ("Private IP", "Synced"):
            header = page.get_by_role("columnheader", name=heading)
            box = await header.bounding_box()
            assert box is not None
            assert box["x"] >= visible["x"]
            assert box["x"] + box["width"] <= visible["x"] + visible["width"]


async def test_the_region_list_is_shown_whole(
    pcm_chromium, make_fleet, pcm_migrated_database, pcm_live_server
):
    await demo_like_fleet(make_fleet, pcm_migrated_database)

    async with fleet_page(pcm_chromium, pcm_live_server, pcm_migrated_database) as page:
        regions = page.get_by_label("Region", exact=True)
        assert await regions.locator("option").count() == 6
        scroll_height, client_height = await regions.evaluate(
            "e => [e.scrollHeight, e.clientHeight]"
        )
        assert scroll_height <= client_height
        box = await regions.bounding_box()
        assert box is not None
        assert box["y"] >= 0
        assert box["y"] + box["height"] <= 900


async def test_the_selection_is_counted_live_and_needed_to_run(
    pcm_chromium, make_fleet, pcm_migrated_database, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    expect = async_api.expect
    fleet = await demo_like_fleet(make_fleet, pcm_migrated_database)
    await fleet.script()

    async with fleet_page(pcm_chromium, pcm_live_server, pcm_migrated_database) as page:
        count = page.locator("#selected-count")
        run = page.get_by_role("button", name="Run a script on the selected instances")
        await expect(count).to_have_text("Select at least one instance to run a script on it.")
        await expect(run).to_be_disabled()

        boxes = page.locator("input[name=instance_id]")
        await boxes.nth(0).check()
        await boxes.nth(2).check()
        await expect(count).to_have_text("2 selected")
        await expect(run).to_be_enabled()
        await boxes.nth(0).uncheck()
        await expect(count).to_have_text("1 selected")

        await page.get_by_label("Select every instance on this page").check()
        await expect(count).to_have_text("7 selected")
        await page.get_by_label("Select every instance on this page").uncheck()
        await expect(count).to_have_text("Select at least one instance to run a script on it.")
        await expect(run).to_be_disabled()

        await boxes.nth(1).check()
        await run.click()
        await page.wait_for_url("**/executions/new?*")
        await expect(page.get_by_text("1 instance chosen by id")).to_be_visible()
