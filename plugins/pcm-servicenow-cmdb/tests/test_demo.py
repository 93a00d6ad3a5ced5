"""Demo mode: the fake ServiceNow starts with the application, its CMDB holds the demo
fleet of pcm-aws-common, its changes are ready to browse and run through, and the demo
production accounts are gated."""

from __future__ import annotations

import os

import pytest

from pcm_aws_common import demo as aws_demo
from pcm_ops.testing import app_client, issue_api_token

API = "/api/tools/servicenow/cmdb"
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner", "servicenow-cmdb"]


@pytest.fixture
def restore_endpoint(monkeypatch):
    """Demo mode points the process's AWS clients at the fake AWS: put that back after."""
    for name in aws_demo.ENDPOINT_VARIABLES:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)


async def test_the_demo_has_changes_on_the_demo_fleet_and_gates_production(
    make_pcm_settings, make_pcm_registry, make_pcm_app, pcm_migrated_database, restore_endpoint
):
    settings = make_pcm_settings(demo=True)
    registry = make_pcm_registry(settings=settings)
    app = make_pcm_app(settings=settings, registry=registry)
    token = await issue_api_token(app, role="admin")
    headers = {"Authorization": f"Bearer {token}"}

    async with app_client(app, headers=headers) as client:
        connections = (await client.get(f"{API}/connections")).json()
        listed = (await client.get(f"{API}/changes")).json()
        approved = next(c for c in listed if c["short_description"].startswith("Patch"))
        detail = (await client.get(f"{API}/changes/{approved['number']}")).json()
        gate = registry.get("servicenow-cmdb").config.gate
        fake_aws = app.state.aws_demo

    assert [(c["name"], c["status"]) for c in connections] == [("demo", "ok")]
    assert sorted((c["state_label"], c["approval"]) for c in listed) == [
        ("Authorize", "requested"),
        ("Canceled", "approved"),
        ("Implement", "approved"),
        ("Implement", "approved"),
    ]
    assert approved["window_open"] is True
    placed = {
        ci["name"]: (ci["instance_id"], ci["account_id"], ci["region"])
        for ci in detail["affected_cis"]
    }
    assert placed["prod-web-01"] == (
        fake_aws.instances["prod-web-01"],
        "200000000001",
        "us-east-1",
    )
    assert placed["legacy-batch-01"] == (None, None, None)  # known by its IP address only
    assert len(placed) == 5
    assert gate.accounts == ["200000000001"]
