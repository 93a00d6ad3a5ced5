"""Demo mode: the fake ServiceNow starts with the application, its CMDB holds the demo
fleet of pcm-aws-common, its changes are ready to browse and run through, and the demo
production account is gated.

aws-common's fake AWS is built at most once per process (moto's state is the process's), so
here it is stood in for by what the ServiceNow demo reads of it: the demo instances' ids
(``app.state.aws_demo.instances``) and one instance's private IP address (EC2's
``DescribeInstances``); the script runner's inventory rows are written as its sync would.
``pcm-ops serve --demo`` runs them all for real.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pcm_aws_common.demo import DEMO_ACCOUNTS, DEMO_FLEET
from pcm_aws_script_runner.testing import add_inventory_instances
from pcm_servicenow_cmdb import demo

API = "/api/tools/servicenow/cmdb"
PROD = "200000000001"
WEB_04_IP = "10.0.4.4"
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-script-runner", "servicenow-cmdb"]


class FakeEc2:
    """What the demo asks EC2: one instance's private IP address."""

    def describe_instances(self, InstanceIds):
        return {"Reservations": [{"Instances": [{"PrivateIpAddress": WEB_04_IP}]}]}


@pytest.fixture
async def demo_app(pcm_app, pcm_migrated_database, pcm_running_app, pcm_registry):
    instances = {instance.name: f"i-{n:017x}" for n, instance in enumerate(DEMO_FLEET)}
    pcm_app.state.aws_demo = SimpleNamespace(
        instances=instances, moto=SimpleNamespace(harness_client=lambda *_: FakeEc2())
    )
    accounts = {account.key: account.account_id for account in DEMO_ACCOUNTS}
    for instance in DEMO_FLEET:
        await add_inventory_instances(
            pcm_app.state.database,
            accounts[instance.account],
            instance.region,
            [instances[instance.name]],
            name=instance.name,
            private_ip=WEB_04_IP if instance.name == "prod-web-04" else "",
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
    assert placed["storefront-legacy-04"] == (None, None, None)  # known by its IP address only
    assert len(placed) == 5
    mapped = {ci["name"]: (ci["matched_by"], ci["mapped_to"]) for ci in detail["affected_cis"]}
    web_01, web_04 = (demo_app.state.aws_demo.instances[n] for n in ("prod-web-01", "prod-web-04"))
    assert mapped["prod-web-01"][0] == "instance id"
    assert mapped["prod-web-01"][1]["ping_status"] == "Online"
    assert mapped["prod-web-01"][1]["instance_id"] == web_01
    assert mapped["storefront-legacy-04"][0] == "IP address"
    assert mapped["storefront-legacy-04"][1]["instance_id"] == web_04
    assert mapped["payments-load-balancer"] == (None, None)
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
