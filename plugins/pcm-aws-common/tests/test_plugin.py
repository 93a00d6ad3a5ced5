"""The plugin as core sees it: metadata, hooks, routes, permissions, a cheap import."""

from __future__ import annotations

import subprocess
import sys

import pytest

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_the_plugin_loads_with_its_routes_under_its_prefixes(pcm_app, pcm_registry):
    record = pcm_registry.get("aws-common")

    assert (record.state.value, record.metadata.provider, record.metadata.tool) == (
        "loaded",
        "aws",
        "common",
    )
    assert "GET /api/tools/aws/common/accounts" in record.routes
    assert "POST /api/tools/aws/common/credentials" in record.routes
    assert all(
        route.split(" ")[1].startswith(("/api/tools/aws/common/", "/tools/aws/common/"))
        for route in record.routes
    )


@SQLITE_ONLY
def test_the_plugin_defines_its_permissions_with_default_roles(pcm_app):
    permissions = pcm_app.state.permissions

    assert "aws-common:read" in permissions.for_role("viewer")
    assert "aws-common:credentials.manage" in permissions.for_role("operator")
    assert "aws-common:credentials.share" not in permissions.for_role("operator")
    assert "aws-common:accounts.manage" not in permissions.for_role("operator")
    assert "aws-common:accounts.manage" in permissions.for_role("admin")


def test_importing_the_plugin_module_imports_nothing_heavy():
    code = (
        "import sys, pcm_aws_common.plugin; "
        "heavy = [m for m in ('aiobotocore', 'botocore', 'fastapi', 'sqlmodel', 'moto') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert completed.stdout.strip() == ""


def test_the_testing_fixtures_module_imports_nothing_heavy():
    code = (
        "import sys, pcm_aws_common.testing.fixtures; "
        "print(','.join(m for m in ('moto', 'aiobotocore', 'botocore') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert completed.stdout.strip() == ""


@SQLITE_ONLY
def test_plugin_settings_come_from_the_environment(
    make_pcm_settings, make_pcm_registry, monkeypatch
):
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URLS", "ssm=https://vpce-1.ssm.example.com")
    monkeypatch.setenv("PCM_AWS_COMMON__CONCURRENCY_PER_ACCOUNT_REGION", "4")

    config = make_pcm_registry(settings=make_pcm_settings()).get("aws-common").config

    assert config.endpoint_for("ssm") == "https://vpce-1.ssm.example.com"
    assert config.concurrency_per_account_region == 4
    assert config.endpoint_for("sts") == config.endpoint_url  # the moto server
