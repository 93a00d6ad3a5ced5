"""Fixtures of the web UI tests: an application with test plugins, and a signed-in client.

The tests need no database: instead of logging in, :func:`sign_in` stands in for
:func:`pcm_ops.security.auth.authenticate`, the app-wide dependency, with a principal of a
given role, the way the real one records it on ``request.state``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from pcm_ops.app import create_app
from pcm_ops.discovery import ENTRY_POINT_GROUP, discover
from pcm_ops.security.auth import SCOPE_KEY, authenticate
from pcm_ops.security.principal import Principal
from pcm_ops.settings import load_settings

WEB_TESTS = Path(__file__).resolve().parent
TEST_MODULES = ("web_example_plugin", "web_more_plugins")

#: What a browser sends as Accept when it navigates to a page.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

EXAMPLE = EntryPoint("example-tool", "web_example_plugin", ENTRY_POINT_GROUP)

MakeApp = Callable[..., FastAPI]
Browse = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]


def entry_point(plugin_id: str) -> EntryPoint:
    """``example-tool`` (the example plugin), or the plugin object of ``web_more_plugins``
    with that id (``static-collision`` is ``web_more_plugins:static_collision``)."""
    if plugin_id == EXAMPLE.name:
        return EXAMPLE
    return EntryPoint(
        plugin_id, f"web_more_plugins:{plugin_id.replace('-', '_')}", ENTRY_POINT_GROUP
    )


def sign_in(app: FastAPI, role: str = "admin", username: str = "tess") -> Principal:
    """Make every request to ``app`` come from a user with ``role``; return the principal."""
    principal = Principal(
        user_id=1,
        username=username,
        role=role,
        permissions=app.state.permissions.for_role(role),
        via="token",
    )

    async def as_principal(request: Request) -> Principal:
        request.scope[SCOPE_KEY] = principal
        request.state.principal = principal
        return principal

    app.dependency_overrides[authenticate] = as_principal
    return principal


def _forget_test_modules() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in TEST_MODULES]:
        del sys.modules[name]


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeApp]:
    """``make_app(*plugin_ids, role="admin", **settings)``: an application with those
    plugins (see :func:`entry_point`; default: the example plugin, ``()`` for none), signed
    in as ``role`` (``None``: nobody is)."""
    for name in list(os.environ):
        if name.startswith("PCM_") and not name.startswith("PCM_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.syspath_prepend(str(WEB_TESTS))
    _forget_test_modules()

    def make(
        *plugin_ids: str,
        plugins: tuple[str, ...] | None = None,
        role: str | None = "admin",
        **settings_values: Any,
    ) -> FastAPI:
        ids = plugin_ids or (plugins if plugins is not None else (EXAMPLE.name,))
        settings = load_settings(data_dir=tmp_path, **settings_values)
        registry = discover(settings, entry_points_=[entry_point(i) for i in ids])
        app = create_app(settings, registry)
        if role is not None:
            sign_in(app, role)
        return app

    yield make
    _forget_test_modules()


@asynccontextmanager
async def browser_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that asks for pages as a browser does. Unhandled errors become 500
    responses, as under a server, instead of propagating into the test."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"Accept": BROWSER_ACCEPT}
    ) as client:
        yield client


@pytest.fixture
def browse() -> Browse:
    """``async with browse(app) as client``: a browser-like client of ``app``."""
    return browser_client


@pytest.fixture
async def client(make_app: MakeApp) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of an application with the example plugin, signed in as admin."""
    async with browser_client(make_app()) as client:
        yield client
