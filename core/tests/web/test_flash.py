"""Flash notifications: shown once, on the next page, through a short-lived cookie."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.responses import Response

from pcm_ops.web import flash
from pcm_ops.web.flash import FLASH_COOKIE, Flash, decode, encode


def _flashes(html: str) -> list[tuple[str, str]]:
    return re.findall(
        r'<div class="flash flash--(\w+)">\s*<p class="flash__message">(.*?)</p>', html, re.S
    )


async def test_flash_is_shown_on_the_next_page_then_gone(client: httpx.AsyncClient) -> None:
    redirect = await client.post("/tools/aws/example/save")
    assert redirect.status_code == 303

    shown = await client.get(redirect.headers["location"])
    again = await client.get("/tools/aws/example/")

    assert _flashes(shown.text) == [("success", "Saved &lt;everything&gt;.")]
    assert _flashes(again.text) == []
    assert FLASH_COOKIE not in client.cookies


async def test_flash_cookie_is_httponly_samesite_lax_on_the_whole_site(
    client: httpx.AsyncClient,
) -> None:
    redirect = await client.post("/tools/aws/example/save")

    cookie = redirect.headers["set-cookie"]
    assert cookie.startswith(f"{FLASH_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "Max-Age=" in cookie


async def test_flash_on_a_response_carries_every_message(client: httpx.AsyncClient) -> None:
    redirect = await client.post("/tools/aws/example/save-on-response")

    shown = await client.get(redirect.headers["location"])

    assert _flashes(shown.text) == [("info", "First."), ("warning", "Second.")]


async def test_flash_on_a_request_that_renders_shows_at_once(client: httpx.AsyncClient) -> None:
    page = await client.post("/tools/aws/example/save-and-show")

    assert _flashes(page.text) == [("info", "Shown at once.")]
    assert FLASH_COOKIE not in client.cookies


async def test_pages_that_show_nothing_keep_the_messages(client: httpx.AsyncClient) -> None:
    await client.post("/tools/aws/example/save")

    api = await client.get("/api/tools/aws/example/items/1", headers={"Accept": "*/*"})
    page = await client.get("/")

    assert api.status_code == 200
    assert _flashes(page.text) == [("success", "Saved &lt;everything&gt;.")]


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="'danger' is not one of info, success, warning"):
        flash(Response(), "Nope", "danger")


def test_cookie_value_round_trips_and_tolerates_garbage() -> None:
    messages = [Flash("Saved ✓", "success"), Flash('Careful; "quoted"', "warning")]

    assert decode(encode(messages)) == messages
    assert decode("not base64 at all!") == []
    assert decode(encode([])) == []


def test_cookie_stays_small_by_dropping_the_oldest_messages() -> None:
    messages = [Flash(f"{n}: " + "x" * 400) for n in range(20)]

    value = encode(messages)

    assert len(value) <= 3800
    assert decode(value)[-1] == messages[-1]
