"""The pages: browser sessions per role that post forms with their CSRF token, and a check
that a page holds no inline code the Content-Security-Policy would block."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

PASSWORD = "a long enough password"


INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    re.compile(r"<style\b", re.IGNORECASE),
    re.compile(r"\sstyle=", re.IGNORECASE),
    re.compile(r"\son[a-z]+=", re.IGNORECASE),
    re.compile(r"javascript:", re.IGNORECASE),
]


def _assert_no_inline_code(html: str) -> None:
    found = [pattern.pattern for pattern in INLINE if pattern.search(html)]
    assert found == [], f"inline code the CSP would block: {found}"


@pytest.fixture
def assert_no_inline_code() -> Callable[[str], None]:
    """Fails on an inline script, style or event handler (the CSP would block it)."""
    return _assert_no_inline_code


class Browser(httpx.AsyncClient):
    """A logged-in browser session: ``csrf`` is its token."""

    csrf: str = ""

    async def submit(self, path: str, fields: Any = None, **kwargs: Any) -> httpx.Response:
        """POST a form with the session's CSRF token (``fields``: a dict or (name, value)
        pairs, for repeated names)."""
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields or [])
        data: dict[str, list[str]] = {"csrf_token": [self.csrf]}
        for name, value in pairs:
            data.setdefault(name, []).append(value)
        return await self.post(path, data=data, **kwargs)


@pytest.fixture
async def login(
    pcm_migrated_database: Any, pcm_running_app: Any
) -> AsyncIterator[Callable[[str], Awaitable[Browser]]]:
    """``await login("operator")``: a browser session of a new user with that role."""
    from pcm_ops.security.users import create_user

    clients: list[Browser] = []

    async def make(role: str) -> Browser:
        username = f"{role}-{len(clients)}"
        async with pcm_migrated_database.session() as session:
            await create_user(session, username, PASSWORD, role)
        client = Browser(
            transport=httpx.ASGITransport(app=pcm_running_app), base_url="http://testserver"
        )
        clients.append(client)
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        client.csrf = response.json()["csrf_token"]
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def operator(login: Callable[[str], Awaitable[Browser]]) -> Browser:
    return await login("operator")


@pytest.fixture
async def viewer(login: Callable[[str], Awaitable[Browser]]) -> Browser:
    return await login("viewer")
