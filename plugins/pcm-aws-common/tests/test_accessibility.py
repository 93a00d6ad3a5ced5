"""Accessibility of the plugin's pages: axe-core (``pcm_ops.testing.accessibility``) finds
no serious or critical violation on the accounts list, an account, the credential sources
and the import form, as an admin (who sees every form) with a credential source and an
account, in one Chromium session (Debian's, through Playwright)."""

from __future__ import annotations

import pytest

from pcm_ops.testing.accessibility import axe_violations, describe_violations
from pcm_ops.testing.fixtures import CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True),
]

PAGES = "/tools/aws/common"


async def test_no_page_has_serious_accessibility_violations(pcm_chromium, api, pcm_live_server):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    source = await api.add_keys("org")
    added = await api.add_account(
        account_id="222222222222",
        name="Member",
        partition="aws",
        regions=["us-east-1", "us-west-2"],
        credential_source_id=source["id"],
    )
    assert added.status_code == 201, added.text
    headers = await api.auth("admin")

    found: dict[str, str] = {}
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            page = await browser.new_page(extra_http_headers=headers)
            page.set_default_timeout(10_000)
            for path in ("/", "/accounts", "/accounts/222222222222", "/credentials"):
                await page.goto(f"{pcm_live_server}{PAGES}{path}")
                violations = await axe_violations(page)
                if violations:
                    found[path] = describe_violations(violations, page.url)
            await page.goto(f"{pcm_live_server}{PAGES}/accounts/import")
            violations = await axe_violations(page)
            if violations:
                found["/accounts/import"] = describe_violations(violations, page.url)
        finally:
            await browser.close()

    assert not found, "\n\n".join(f"{name}:\n{text}" for name, text in found.items())
