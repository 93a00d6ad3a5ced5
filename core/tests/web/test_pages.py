"""Core's pages: the landing page and the plugins page."""

from __future__ import annotations

import re

import httpx


def _words(html: str) -> str:
    """The page's text with runs of white space made one space."""
    return " ".join(html.split())


async def test_landing_page_lists_the_plugin_under_its_provider(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert re.search(r'<h2 class="provider__name"[^>]*>AWS</h2>', page.text)
    assert '<a href="/tools/aws/example/">Example Tool</a>' in page.text
    assert "A tool that exists only in the web tests." in page.text


async def test_landing_page_lists_api_only_plugins_without_a_link(make_app, browse) -> None:
    async with browse(make_app("api-only")) as client:
        page = await client.get("/")

    assert "ServiceNow" in page.text
    assert "CMDB Sync" in page.text
    assert "API only" in page.text
    assert 'href="/tools/servicenow/api-only/' not in page.text


async def test_landing_page_explains_how_to_install_a_plugin(make_app, browse) -> None:
    async with browse(make_app(plugins=())) as client:
        page = await client.get("/")

    assert "No plugins are installed" in page.text
    assert "pip install" in page.text


async def test_landing_page_warns_about_plugins_that_did_not_load(make_app, browse) -> None:
    async with browse(make_app("example-tool", "incompatible")) as client:
        page = await client.get("/")

    assert "1 plugin could not be loaded: incompatible." in _words(page.text)
    assert 'href="/plugins"' in page.text


async def test_landing_page_says_when_no_installed_plugin_is_enabled(make_app, browse) -> None:
    app = make_app("example-tool", disabled_plugins=["example-tool"])
    async with browse(app) as client:
        page = await client.get("/")

    assert "No tools are loaded" in page.text
    assert "PCM_DISABLED_PLUGINS" in page.text


async def test_plugins_page_shows_every_state(make_app, browse) -> None:
    app = make_app(
        "example-tool",
        "api-only",
        "incompatible",
        "not-web-pages",
        disabled_plugins=["api-only"],
    )
    async with browse(app) as client:
        page = await client.get("/plugins")

    assert page.status_code == 200
    states = dict(re.findall(r'<tr id="plugin-([a-z-]+)">.*?badge--(\w+)', page.text, re.S))
    assert states == {
        "api-only": "disabled",
        "example-tool": "loaded",
        "incompatible": "incompatible",
        "not-web-pages": "failed",
    }


async def test_plugins_page_shows_errors_hooks_and_routes(make_app, browse) -> None:
    async with browse(make_app("example-tool", "incompatible")) as client:
        page = await client.get("/plugins")

    assert "requires the PCM-Ops plugin API &gt;=99 (found 1.0)" in page.text
    assert "<code>pcm_ops_web_pages</code>" in page.text
    assert "<code>GET /tools/aws/example/static/{path}</code>" in page.text
    assert "<code>GET /api/tools/aws/example/items/{item_id}</code>" in page.text


# -- the UI kit -------------------------------------------------------------------------------


async def test_the_ui_kit_renders_every_piece_with_its_code(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui-kit")

    assert page.status_code == 200
    text = _words(page.text)
    assert '<div class="callout callout--warning" role="alert" id="form-problems">' in page.text
    assert '<a href="#name">name</a>: use letters, digits and dashes' in text
    assert '<p class="form__error" id="name-problem">use letters, digits and dashes</p>' in text
    assert 'name="csrf_token"' in page.text
    for category in ("info", "success", "warning", "error"):
        assert f'class="flash flash--{category}"' in page.text
    assert page.text.count('class="badge badge--') == 3
    assert '<h2 class="empty-state__title">No items yet</h2>' in page.text
    # The template code is shown as text, not run.
    assert "{{ csrf_field(user) }}" in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # the CSP allows no inline code


async def test_the_ui_kit_needs_a_signed_in_user(make_app, browse) -> None:
    async with browse(make_app(role=None)) as client:
        page = await client.get("/ui-kit", follow_redirects=False)

    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


async def test_the_favicon_is_found_without_signing_in(make_app, browse) -> None:
    async with browse(make_app(role=None)) as client:
        icon = await client.get("/favicon.ico", follow_redirects=True)

    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
