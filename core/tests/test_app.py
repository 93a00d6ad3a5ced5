"""The application: plugin routes under their prefixes, probes, the plugin report, start-up."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from fastapi import APIRouter

from pcm_ops.app import create_app
from pcm_ops.cli.main import cli
from pcm_ops.db.migrations import upgrade
from pcm_ops.errors import PluginError
from pcm_ops.mounting import mount_plugin_routers
from pcm_ops.registry import PluginState
from pcm_ops.security import require
from pcm_ops.settings import load_settings
from pcm_ops.testing import app_client, issue_api_token


@pytest.mark.pcm_plugins("alpha")
async def test_plugin_routes_are_mounted_under_api_tools_provider_tool(
    pcm_admin_client, pcm_registry
):
    response = await pcm_admin_client.get("/api/tools/test/alpha/items")

    assert response.status_code == 200
    assert response.json() == {"items": [], "greeting": "hello"}
    assert pcm_registry.get("alpha").routes == ["GET /api/tools/test/alpha/items"]


@pytest.mark.pcm_plugins("alpha")
async def test_plugin_routes_need_credentials(pcm_client):
    response = await pcm_client.get("/api/tools/test/alpha/items")

    assert response.status_code == 401


@pytest.mark.pcm_plugins("alpha", "escaping-route")
def test_a_route_outside_the_plugins_prefix_fails_the_plugin_naming_the_route(
    pcm_app, pcm_registry
):
    record = pcm_registry.get("escaping-route")
    assert record.state is PluginState.FAILED
    assert record.error.startswith(
        "route GET /api/elsewhere/things is outside its prefix /api/tools/test/escaping-route/"
    )
    assert "/api/elsewhere/things" not in pcm_app.openapi()["paths"]
    assert pcm_registry.get("alpha").state is PluginState.LOADED


@pytest.mark.pcm_plugins("alpha", "beta")
def test_a_route_another_plugin_serves_is_refused_naming_both_plugins(
    pcm_app, pcm_registry, caplog
):
    beta = pcm_registry.get("beta")
    router = APIRouter(dependencies=[require("beta:read")])
    router.add_api_route("/items", lambda: {}, methods=["GET"])

    mounted = mount_plugin_routers(pcm_app, pcm_registry, beta, [router], "/api/tools/test/alpha")

    assert not mounted
    assert beta.state is PluginState.FAILED
    assert beta.error == (
        "route GET /api/tools/test/alpha/items collides with the same route of plugin 'alpha'"
    )
    assert any(
        "plugin 'beta'" in r.getMessage() and "plugin 'alpha'" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR
    )


async def test_healthz_answers_200(pcm_client):
    response = await pcm_client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_healthz_answered_before_routing_is_the_routes_answer(pcm_app, pcm_client):
    """Core's layer answers a public ``/healthz`` itself; with a query string the route
    does: both answers (and the route's documented model) must be the same."""
    fast = await pcm_client.get("/healthz")
    routed = await pcm_client.get("/healthz?probe=1")
    for name in ("content-type", "content-length", "x-content-type-options"):
        assert fast.headers[name] == routed.headers[name], name
    assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
    documented = pcm_app.openapi()["paths"]["/healthz"]["get"]["responses"]["200"]
    assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/Liveness")


async def test_readyz_answers_503_with_details_before_migrations(pcm_client):
    response = await pcm_client.get("/readyz")

    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is False
    assert "pcm-ops db upgrade" in checks["migrations"]["detail"]


async def test_readyz_answers_200_after_upgrade(pcm_migrated_database, pcm_client):
    response = await pcm_client.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


@pytest.mark.pcm_plugins("alpha", "broken-import")
async def test_readyz_reports_a_failed_plugin_as_degraded(pcm_migrated_database, pcm_client):
    response = await pcm_client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["plugin:broken-import"]["ok"] is False
    assert "boom at import time" in checks["plugin:broken-import"]["detail"]


def _without_timings(report: dict) -> dict:
    for plugin in report["plugins"]:
        plugin.pop("discovery_ms")
    return report


async def test_api_plugins_shows_what_plugins_list_json_shows(
    pcm_settings, installed_fixture_plugins, monkeypatch
):
    installed_fixture_plugins("alpha", "beta", "broken_import")
    monkeypatch.setenv("PCM_DATA_DIR", str(pcm_settings.data_dir))
    monkeypatch.setenv("PCM_DATABASE_URL", pcm_settings.database_url)
    settings = load_settings()
    app = create_app(settings)
    upgrade(settings, app.state.registry)
    token = await issue_api_token(app)

    result = CliRunner().invoke(cli, ["plugins", "list", "--json"])
    async with app_client(app, headers={"Authorization": f"Bearer {token}"}) as client:
        response = await client.get("/api/plugins")

    assert result.exit_code == 0, result.output
    assert response.status_code == 200
    from_cli = _without_timings(json.loads(result.output))
    from_api = _without_timings(response.json())
    assert [p["id"] for p in from_api["plugins"]] == ["alpha", "beta", "broken-import"]
    assert from_api == from_cli


@pytest.mark.pcm_plugins("alpha", "beta")
def test_openapi_has_a_tag_per_plugin(pcm_app):
    schema = pcm_app.openapi()

    tags = {tag["name"]: tag for tag in schema["tags"]}
    assert tags["Alpha Tool"]["description"] == "The first test plugin."
    assert "Beta Tool" in tags
    assert schema["paths"]["/api/tools/test/alpha/items"]["get"]["tags"] == ["Alpha Tool"]
    assert schema["paths"]["/api/tools/test/beta/items"]["get"]["tags"] == ["Beta Tool"]


@pytest.mark.pcm_plugins("alpha", "failing-startup")
async def test_a_plugin_whose_startup_raises_is_failed_and_its_routes_answer_503(
    pcm_admin_client, pcm_registry
):
    response = await pcm_admin_client.get("/api/tools/test/failing-startup/ping")

    assert response.status_code == 503
    assert "plugin 'failing-startup' is unavailable" in response.json()["detail"]
    record = pcm_registry.get("failing-startup")
    assert record.state is PluginState.FAILED
    assert record.error == (
        "hook pcm_ops_startup raised ConnectionError: cannot reach the tool's backend"
    )


@pytest.mark.pcm_plugins("alpha", "failing-startup")
async def test_other_plugins_keep_working_when_one_fails_at_startup(pcm_admin_client):
    response = await pcm_admin_client.get("/api/tools/test/alpha/items")

    assert response.status_code == 200


async def test_strict_mode_turns_a_failing_startup_into_a_startup_error(
    make_pcm_settings, make_pcm_app, fixture_plugins
):
    settings = make_pcm_settings(strict_plugins=True)
    app = make_pcm_app(*fixture_plugins("failing_startup"), settings=settings)

    with pytest.raises(PluginError, match="hook pcm_ops_startup raised ConnectionError"):
        async with app_client(app):
            pass


@pytest.mark.pcm_plugins("alpha")
async def test_startup_and_shutdown_hooks_run_around_the_applications_life(pcm_app):
    async with app_client(pcm_app):
        assert pcm_app.state.alpha_started is True
        assert not hasattr(pcm_app.state, "alpha_stopped")

    assert pcm_app.state.alpha_stopped is True
    # Jobs can be enqueued from start-up hooks; none runs while shutdown hooks release things.
    assert pcm_app.state.alpha_saw_engine_at_startup is True
    assert pcm_app.state.alpha_saw_engine_at_shutdown is False
