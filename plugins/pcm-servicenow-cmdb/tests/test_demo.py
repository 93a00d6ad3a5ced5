"""Demo mode: the fake ServiceNow starts with the application, its CMDB holds the demo
fleet of pcm-aws-common, its changes are ready to browse and run through, and the demo
production account is gated.

aws-common's fake AWS is built at most once per process (moto's state is the process's), so
here it is stood in for by what the ServiceNow demo reads of it: the demo instances' ids
(``app.state.aws_demo.instances``). ``pcm-ops serve --demo`` runs both for real.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pcm_aws_common.demo import DEMO_FLEET
from pcm_servicenow_cmdb import demo

API = "/api/tools/servicenow/cmdb"
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
async def demo_app(pcm_app, pcm_migrated_database, pcm_running_app, pcm_registry):
    pcm_app.state.aws_demo = SimpleNamespace(
        instances={instance.name: f"i-{n:017x}" for n, instance in enumerate(DEMO_FLEET)}
    )
    await demo.start(pcm_app, pcm_registry.get("servicenow-cmdb"))
    try:
        yield pcm_app
    finally:
        await demo.stop(pcm_app)


async def test_the_demo_has_changes_on_the_demo_fleet_and_gates_production(
    demo_app, pcm_admin_client, pcm_registry
):
    connections = (await pcm_admin_client.get(f"{API}/connections")).json()
    listed = (await pcm_admin_client.get(f"{API}/changes")).json()
    approved = next(c for c in listed if c["short_description"].startswith("Patch"))
    detail = (await pcm_admin_client.get(f"{API}/changes/{approved['number']}")).json()

    assert [(c["name"], c["status"]) for c in connections] == [("demo", "ok")]
    assert approved["number"] == "CHG0030001"
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
        demo_app.state.aws_demo.instances["prod-web-01"],
        "200000000001",
        "us-east-1",
    )
    assert placed["legacy-batch-01"] == (None, None, None)  # known by its IP address only
    assert len(placed) == 5
    assert pcm_registry.get("servicenow-cmdb").config.gate.accounts == ["200000000001"]


async def test_a_second_start_points_the_same_connection_at_the_new_address(
    demo_app, pcm_admin_client, pcm_registry
):
    first = demo_app.state.servicenow_demo.url
    await demo.stop(demo_app)
    await demo.start(demo_app, pcm_registry.get("servicenow-cmdb"))

    connections = (await pcm_admin_client.get(f"{API}/connections")).json()

    assert [c["name"] for c in connections] == ["demo"]
    assert connections[0]["base_url"] == demo_app.state.servicenow_demo.url != first
