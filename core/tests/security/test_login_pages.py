"""The browser login flow: form, redirect, open-redirect guard, logout with CSRF."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest


@pytest.fixture
async def browser(platform: Any) -> Any:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.app),
        base_url="http://testserver",
        headers={"Accept": "text/html"},
    )
    yield client
    await client.aclose()


async def test_pages_send_an_anonymous_browser_to_the_login_form(browser: Any) -> None:
    response = await browser.get("/plugins")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fplugins"
    form = await browser.get("/login?next=/plugins")
    assert form.status_code == 200
    assert 'name="next" value="/plugins"' in form.text


async def test_login_form_logs_in_and_returns_to_the_page(browser: Any) -> None:
    response = await browser.post(
        "/login", data={"username": "vera", "password": "viewer password 12", "next": "/plugins"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/plugins"
    page = await browser.get("/plugins")
    assert page.status_code == 200
    assert "vera" in page.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
async def test_login_never_redirects_off_site(browser: Any, target: str) -> None:
    response = await browser.post(
        "/login", data={"username": "vera", "password": "viewer password 12", "next": target}
    )
    assert response.headers["location"] == "/"


async def test_wrong_password_shows_the_form_again_with_401(browser: Any) -> None:
    response = await browser.post(
        "/login", data={"username": "vera", "password": "not the password"}
    )
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert "pcm_session" not in response.headers.get("set-cookie", "")


async def test_logout_button_carries_the_csrf_token_and_ends_the_session(browser: Any) -> None:
    await browser.post("/login", data={"username": "vera", "password": "viewer password 12"})
    page = await browser.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    refused = await browser.post("/logout")
    assert refused.status_code == 403
    response = await browser.post("/logout", data={"csrf_token": token.group(1)})
    assert response.status_code == 303
    browser.cookies.clear()
    assert (await browser.get("/")).status_code == 303
