"""Accessibility of core's pages: axe-core finds no serious or critical violation.

One Chromium session (Debian's, through Playwright) walks every page core serves, signed in
as an operator who holds API tokens, with the example plugin loaded so that the landing page
and the navigation have something in them: the login page (also with a wrong password), the
home page, the plugins page, the UI kit, the API tokens page (the list, a problem in the
form, a new token's secret, the revoke confirmation), the API docs and an error page.
"""

from __future__ import annotations

import pytest

from pcm_ops.testing.accessibility import axe_violations, describe_violations
from pcm_ops.testing.fixtures import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


@pytest.fixture(autouse=True)
def _cheap_passwords(pcm_cheap_passwords: None) -> None:
    pass


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["example"]


async def test_no_page_of_core_has_serious_accessibility_violations(
    pcm_chromium, pcm_migrated_database, pcm_app, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.security.tokens import create_token
    from pcm_ops.security.users import create_user

    held = pcm_app.state.permissions.for_role("operator")
    async with pcm_migrated_database.session() as session:
        user = await create_user(session, "olivia", PASSWORD, "operator")
        await create_token(session, user, "ci-deploy", sorted(held), held, 30)
        await create_token(session, user, "reports", ["core:jobs.read"], held, None)

    found: dict[str, str] = {}
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(10_000)

            async def check(name: str, disable_rules: tuple[str, ...] = ()) -> None:
                violations = await axe_violations(page, disable_rules=disable_rules)
                if violations:
                    found[name] = describe_violations(violations, page.url)

            await page.goto(f"{pcm_live_server}/login")
            await check("login")
            await page.get_by_label("User name").fill("olivia")
            await page.get_by_label("Password").fill("not the password")
            await page.get_by_role("button", name="Log in").click()
            await async_api.expect(page.get_by_role("alert")).to_be_visible()
            await check("login, wrong password")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_url(f"{pcm_live_server}/")
            await check("home")
            for path in ("/plugins", "/ui-kit", "/tokens", "/no-such-page"):
                await page.goto(f"{pcm_live_server}{path}")
                await check(path)
            await page.goto(f"{pcm_live_server}/tokens")
            await page.get_by_label("Name").fill(" ")
            await page.get_by_role("button", name="Create token").click()
            await check("/tokens with a problem")
            await page.get_by_label("Name").fill("laptop")
            await page.get_by_role("button", name="Create token").click()
            await async_api.expect(page.get_by_label("Your new token")).to_be_visible()
            await check("/tokens with a new token")
            await page.get_by_role("link", name="Revoke ci-deploy").click()
            await check("revoke confirmation")
            await page.goto(f"{pcm_live_server}/docs")
            await async_api.expect(page.locator(".swagger-ui .info")).to_be_visible()
            # Swagger UI puts each operation's copy-link button inside its expand button:
            # its own markup (swagger-api/swagger-ui), not something a stylesheet can fix.
            await check("/docs", disable_rules=("nested-interactive",))
        finally:
            await browser.close()

    assert not found, "\n\n".join(f"{name}:\n{text}" for name, text in found.items())
