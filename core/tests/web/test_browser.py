"""End to end in a real browser: Debian's Chromium, driven by Playwright, against uvicorn.

Playwright never downloads a browser here: it launches the Chromium at
``$PCM_TEST_CHROMIUM`` (default ``/usr/bin/chromium``), and the test is skipped when there
is none. The server sends its real Content-Security-Policy, so an inline script or style
would show up as a console error.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from pcm_ops.testing.fixtures import CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(make_app) -> Iterator[str]:
    """The example plugin's application served by uvicorn on a free loopback port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # The lifespan (start-up hooks, migrations) is not what this test is about.
    config = uvicorn.Config(make_app(), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 15 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()


def test_user_goes_from_landing_page_to_a_plugin_page(live_server: str, pcm_chromium: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: problems.append(str(error)))

            page.goto(f"{live_server}/")
            sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Operations console")
            tools = page.get_by_role("navigation", name="Tools")
            sync_api.expect(tools.get_by_role("heading", name="AWS")).to_be_visible()
            tools.get_by_role("link", name="Overview").click()

            page.wait_for_url(f"{live_server}/tools/aws/example/")
            sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Example overview")
            sync_api.expect(tools.get_by_role("link", name="Overview")).to_have_attribute(
                "aria-current", "page"
            )
            # htmx and core's script loaded from /static under the CSP.
            assert page.evaluate("typeof window.htmx") == "object"
        finally:
            browser.close()

    assert problems == []
