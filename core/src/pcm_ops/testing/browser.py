"""A Chromium page for browser tests, with what every such test needs: Debian's Chromium
launched through Playwright (never a downloaded browser), a default timeout, the page's
console errors and uncaught exceptions collected, and the login form filled in.

Use it with core's fixtures ``pcm_chromium`` (the executable; the test is skipped without
one) and ``pcm_live_server`` (the application served over real HTTP)::

    from pcm_ops.testing.browser import browser_page

    async def test_notes_page(pcm_chromium, pcm_live_server, ...):
        async with browser_page(pcm_chromium, pcm_live_server) as browser:
            await browser.log_in("olivia", PASSWORD)
            await browser.page.goto(f"{pcm_live_server}/tools/example/notes/")
            ...
        assert browser.problems == []   # no console error, no uncaught exception

The page belongs to its own browser context, so ``browser.page.context.new_page()`` opens a
second tab with the same login. Playwright (``playwright`` on PyPI) is imported only here:
without it the test is skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["BrowserPage", "browser_page"]


@dataclass
class BrowserPage:
    """A Playwright page on ``base_url`` and the problems it reported so far."""

    page: Any
    base_url: str
    #: Console errors (``console`` messages of type ``error``) and uncaught exceptions.
    problems: list[str] = field(default_factory=list)

    async def log_in(self, username: str, password: str) -> None:
        """Log in through the login page, as a person does; return on the home page."""
        await self.page.goto(f"{self.base_url}/login")
        await self.page.get_by_label("User name").fill(username)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Log in").click()
        await self.page.wait_for_url(f"{self.base_url}/")


@asynccontextmanager
async def browser_page(
    chromium: Path | str, base_url: str, *, timeout_ms: float = 10_000, **context: Any
) -> AsyncIterator[BrowserPage]:
    """Launch ``chromium`` headless and open a page on ``base_url`` (see the module);
    ``context``: options of Playwright's ``browser.new_context`` (``viewport={"width":
    1400, "height": 900}``, ``extra_http_headers=...``)."""
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    from pcm_ops.testing.fixtures import CHROMIUM_ARGS

    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            page = await (await browser.new_context(**context)).new_page()
            page.set_default_timeout(timeout_ms)
            opened = BrowserPage(page, base_url.rstrip("/"))
            page.on(
                "console",
                lambda message: (
                    opened.problems.append(message.text) if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: opened.problems.append(str(error)))
            yield opened
        finally:
            await browser.close()
