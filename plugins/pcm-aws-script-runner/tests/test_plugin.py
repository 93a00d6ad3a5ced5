"""The plugin as core sees it: metadata, permissions and roles, routes, settings, hook specs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pcm_ops.errors import ConfigError

# Discovery and the application's routes do not depend on the database: run once.
sqlite_only = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@sqlite_only
def test_the_plugin_loads(pcm_registry):
    record = pcm_registry.get("aws-script-runner")

    assert record.state.value == "loaded", record.error
    assert record.metadata.api_prefix == "/api/tools/aws/script-runner"
    assert record.metadata.table_prefix == "aws_sr_"


def test_its_ids_module_names_the_prefixes_core_mounts_it_under():
    from pcm_aws_script_runner import ids
    from pcm_aws_script_runner.plugin import metadata

    assert (metadata.id, metadata.page_prefix, metadata.api_prefix) == (
        ids.PLUGIN_ID,
        ids.PAGE_PREFIX,
        ids.API_PREFIX,
    )


@sqlite_only
def test_it_adds_its_own_hook_specs(pcm_registry):
    hooks = pcm_registry.manager.hook

    assert hooks.aws_sr_target_sources.spec is not None
    assert hooks.aws_sr_pre_execution_checks.spec.argnames == (
        "execution_request",
        "principal",
        "context",
    )


@sqlite_only
def test_roles_hold_the_documented_permissions(pcm_app):
    permissions = pcm_app.state.permissions
    ours = {name for name in permissions.names() if name.startswith("aws-script-runner:")}

    assert ours == {
        "aws-script-runner:read",
        "aws-script-runner:execute",
        "aws-script-runner:scripts.manage",
    }
    assert ours & permissions.for_role("viewer") == {"aws-script-runner:read"}
    assert ours & permissions.for_role("operator") == {
        "aws-script-runner:read",
        "aws-script-runner:execute",
    }
    assert ours <= permissions.for_role("admin")


@sqlite_only
def test_every_route_lies_under_the_plugin_prefixes(pcm_app, pcm_registry):
    routes = pcm_registry.get("aws-script-runner").routes

    assert "GET /api/tools/aws/script-runner/scripts" in routes
    assert "PATCH /api/tools/aws/script-runner/scripts/{script_id}" in routes
    assert all(
        route.split()[1].startswith(("/api/tools/aws/script-runner/", "/tools/aws/script-runner"))
        for route in routes
    )


@sqlite_only
def test_the_api_is_documented_under_the_plugins_tag(pcm_app):
    document = pcm_app.openapi()
    operation = document["paths"]["/api/tools/aws/script-runner/scripts"]["post"]

    assert operation["tags"] == ["AWS Script Runner"]
    assert "422" in operation["responses"]


@sqlite_only
def test_settings_come_from_the_environment(make_pcm_registry, monkeypatch):
    monkeypatch.setenv("PCM_AWS_SCRIPT_RUNNER__MAX_SCRIPT_BYTES", "1024")

    registry = make_pcm_registry()

    assert registry.get("aws-script-runner").config.max_script_bytes == 1024


@sqlite_only
def test_a_limit_above_ssm_is_refused_naming_the_key(make_pcm_registry, monkeypatch):
    monkeypatch.setenv("PCM_AWS_SCRIPT_RUNNER__MAX_SCRIPT_BYTES", "70000")

    with pytest.raises(ConfigError, match=r"aws-script-runner\.max_script_bytes"):
        make_pcm_registry()


def test_importing_the_plugin_module_stays_cheap():
    code = (
        "import sys, pcm_aws_script_runner.plugin, pcm_aws_script_runner.hookspecs, "
        "pcm_aws_script_runner.hooktypes\n"
        "heavy = [m for m in ('fastapi', 'sqlmodel', 'sqlalchemy', 'aiobotocore', 'dbos') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == ""
