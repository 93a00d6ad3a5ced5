"""setup_web: static files, the template environment and mounting plugins' pages."""

from __future__ import annotations

import httpx

from pcm_ops.registry import PluginState
from pcm_ops.web.templating import WebState


async def test_core_static_htmx_is_served_as_javascript(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/vendor/htmx.min.js")

    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "htmx" in response.text[:2000]


async def test_core_stylesheet_and_script_are_served(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/css/core.css")
    js = await client.get("/static/js/core.js")

    assert (css.status_code, js.status_code) == (200, 200)
    assert css.headers["content-type"].startswith("text/css")
    assert "javascript" in js.headers["content-type"]


async def test_static_files_need_no_login(make_app, browse) -> None:
    async with browse(make_app(role=None)) as client:
        response = await client.get("/static/css/core.css")

    assert response.status_code == 200


async def test_plugin_static_file_is_served_under_its_page_prefix(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/tools/aws/example/static/example.css")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ".example-plugin" in response.text


async def test_plugin_static_mount_is_recorded_in_its_routes(make_app) -> None:
    app = make_app()

    routes = app.state.registry.get("example-tool").routes

    assert "GET /tools/aws/example/static/{path}" in routes
    assert "GET /tools/aws/example/" in routes


def test_one_environment_finds_core_and_plugin_templates(make_app) -> None:
    web: WebState = make_app().state.web

    assert web.templates.get_template("base.html")
    assert web.templates.get_template("example-tool/overview.html")
    assert web.templates.autoescape is True


def test_static_folder_colliding_with_a_page_route_fails_the_plugin(make_app) -> None:
    app = make_app("example-tool", "static-collision")

    record = app.state.registry.get("static-collision")
    assert record.state is PluginState.FAILED
    assert "/tools/servicenow/static-collision/static/" in record.error
    assert "GET /tools/servicenow/static-collision/static/app.css" in record.error
    assert app.state.registry.get("example-tool").state is PluginState.LOADED


def test_missing_template_folder_fails_the_plugin_naming_it(make_app) -> None:
    app = make_app("missing-folder")

    record = app.state.registry.get("missing-folder")
    assert record.state is PluginState.FAILED
    assert "templates folder" in record.error
    assert "no-such-folder" in record.error
    assert app.state.web.nav == []


def test_hook_returning_something_else_fails_the_plugin(make_app) -> None:
    app = make_app("not-web-pages")

    record = app.state.registry.get("not-web-pages")
    assert record.state is PluginState.FAILED
    assert "returned dict, not pcm_ops.plugin.WebPages" in record.error


async def test_failed_plugin_pages_are_left_out_of_the_navigation(make_app, browse) -> None:
    async with browse(make_app("example-tool", "static-collision")) as client:
        page = await client.get("/")

    assert "Collision" not in page.text
    assert "Overview" in page.text
