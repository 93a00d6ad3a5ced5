"""The API tokens page in a real browser (Debian's Chromium through Playwright): an operator
opens it from the header, makes a token with fewer scopes, copies its secret (shown once),
finds it listed without the secret, uses it, and revokes it after confirming."""

from __future__ import annotations

import re

import httpx
import pytest

from pcm_ops.testing.browser import browser_page

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


@pytest.fixture(autouse=True)
def _cheap_passwords(pcm_cheap_passwords: None) -> None:
    pass


async def test_an_operator_makes_uses_and_revokes_a_token_on_the_tokens_page(
    pcm_chromium, pcm_migrated_database, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.security.users import create_user

    async with pcm_migrated_database.session() as session:
        await create_user(session, "olivia", PASSWORD, "operator")

    expect = async_api.expect
    async with browser_page(pcm_chromium, pcm_live_server) as browser:
        page = browser.page
        await browser.log_in("olivia", PASSWORD)

        await (
            page.get_by_role("navigation", name="Platform")
            .get_by_role("link", name="API tokens")
            .click()
        )
        await page.wait_for_url(f"{pcm_live_server}/tokens")
        await expect(page.get_by_text("You have no API tokens")).to_be_visible()
        await page.get_by_label("Name").fill("nightly-report")
        await page.get_by_label("core:tokens.manage").uncheck()
        await page.get_by_label("Expires after").select_option(label="7 days")
        await page.get_by_role("button", name="Create token").click()

        secret_box = page.get_by_label("Your new token")
        await expect(secret_box).to_have_value(re.compile(r"^pcm_"))
        secret = await secret_box.input_value()
        async with httpx.AsyncClient(base_url=pcm_live_server) as api:
            headers = {"Authorization": f"Bearer {secret}"}
            me = await api.get("/api/auth/me", headers=headers)
            assert me.status_code == 200
            assert "core:tokens.manage" not in me.json()["permissions"]
            assert "core:jobs.read" in me.json()["permissions"]

            await page.goto(f"{pcm_live_server}/tokens")
            await expect(page.get_by_label("Your new token")).to_have_count(0)
            assert secret not in await page.content()
            row = page.get_by_role("row").filter(has_text="nightly-report")
            await expect(row).to_contain_text(secret[:10])
            await expect(row).to_contain_text("active")
            await expect(row).not_to_contain_text("core:tokens.manage")
            await expect(row.get_by_role("cell").nth(4)).not_to_have_text("never")  # used

            await row.get_by_role("link", name="Revoke nightly-report").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Revoke token nightly-report?"
            )
            await page.get_by_role("button", name="Revoke token").click()
            await page.wait_for_url(f"{pcm_live_server}/tokens")
            await expect(page.get_by_role("status").first).to_contain_text("is revoked")
            await expect(row).to_contain_text("revoked")
            await expect(row.get_by_role("link", name="Revoke nightly-report")).to_have_count(0)
            assert (await api.get("/api/auth/me", headers=headers)).status_code == 401

    assert browser.problems == []
