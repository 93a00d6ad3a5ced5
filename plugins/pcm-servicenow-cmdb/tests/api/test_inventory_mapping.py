"""A change's CIs mapped to the script runner's inventory: by instance id, IP address or
host name, ambiguous and unmapped CIs with their reason, GovCloud; through the API, the
CMDB lookup, the page and the ``servicenow-change`` target source, against the fake
ServiceNow over HTTP and real inventory rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pcm_aws_script_runner.testing import add_inventory_instances

API = "/api/tools/servicenow/cmdb"
PAGES = "/tools/servicenow/cmdb"
RESOLVE = "/api/tools/aws/script-runner/target-sources/servicenow-change/resolve"
PROD = "123456789012"
OTHER = "210987654321"
GOV = "300000000003"
FORMAT = "%Y-%m-%d %H:%M:%S"


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-script-runner", "servicenow-cmdb"]


@pytest.fixture
def database(pcm_app, pcm_admin_client):
    """The running application's database (where the inventory rows go)."""
    return pcm_app.state.database


def iid(n: int) -> str:
    return f"i-{n:017x}"


def new_change(sn) -> str:
    now = datetime.now(UTC)
    return sn.add(
        "change_request",
        short_description="Patch",
        type="normal",
        state="-1",
        approval="approved",
        on_hold="false",
        start_date=(now - timedelta(hours=1)).strftime(FORMAT),
        end_date=(now + timedelta(hours=1)).strftime(FORMAT),
    )


def placed_vm(sn, change: str, name: str, instance_id: str, account: str, region: str) -> None:
    """A ``cmdb_ci_vm_instance`` *Hosted on* ``region`` *Hosted on* ``account``."""
    account_ci = sn.add("cmdb_ci_cloud_service_account", name=account, account_id=account)
    region_ci = sn.add("cmdb_ci_aws_datacenter", name=region, region=region)
    sn.relate(region_ci, account_ci)
    vm = sn.add("cmdb_ci_vm_instance", name=name, object_id=instance_id)
    sn.relate(vm, region_ci)
    sn.add("task_ci", task=change, ci_item=vm)


def server(sn, change: str, name: str, **fields: str) -> None:
    ci = sn.add("cmdb_ci_linux_server", name=name, **fields)
    sn.add("task_ci", task=change, ci_item=ci)


async def detail(client, sn, change: str) -> dict:
    number = sn.get(change)["number"]
    answer = await client.get(f"{API}/changes/{number}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def by_name(body: dict) -> dict[str, dict]:
    return {ci["name"]: ci for ci in body["affected_cis"]}


async def test_a_ci_naming_an_instance_id_maps_to_it_with_its_ssm_status(
    pcm_admin_client, connected, database
):
    change = new_change(connected)
    placed_vm(connected, change, "web-1", iid(1), PROD, "eu-west-1")
    await add_inventory_instances(
        database, PROD, "eu-west-1", [iid(1)], name="Web-1", ping_status="ConnectionLost"
    )

    body = await detail(pcm_admin_client, connected, change)

    [ci] = body["affected_cis"]
    assert body["inventory"] is True
    assert ci["matched_by"] == "instance id"
    assert ci["mapped_to"] == {
        "instance_id": iid(1),
        "account_id": PROD,
        "region": "eu-west-1",
        "name": "Web-1",
        "private_ip": "",
        "ping_status": "ConnectionLost",
    }
    assert ci["mapping_note"] == ""


async def test_an_instance_the_inventory_does_not_know_maps_by_the_cmdb_without_ssm_status(
    pcm_admin_client, connected
):
    change = new_change(connected)
    placed_vm(connected, change, "web-2", iid(2), PROD, "eu-west-1")

    [ci] = (await detail(pcm_admin_client, connected, change))["affected_cis"]

    assert ci["matched_by"] == "instance id"
    assert (ci["mapped_to"]["account_id"], ci["mapped_to"]["ping_status"]) == (PROD, None)
    assert ci["mapping_note"] == (
        f"not in the script runner's inventory (no SSM status): sync account {PROD} eu-west-1"
    )


async def test_a_ci_with_no_instance_id_maps_by_its_ip_address(
    pcm_admin_client, connected, database
):
    change = new_change(connected)
    server(connected, change, "legacy-batch", ip_address="10.1.0.5", host_name="batch")
    await add_inventory_instances(
        database, PROD, "us-east-1", [iid(3)], name="batch-x", private_ip="10.1.0.5"
    )

    [ci] = (await detail(pcm_admin_client, connected, change))["affected_cis"]

    assert ci["matched_by"] == "IP address"
    assert (ci["mapped_to"]["instance_id"], ci["mapped_to"]["ping_status"]) == (iid(3), "Online")


async def test_a_ci_maps_by_host_name_to_the_name_tag_or_the_private_host_name(
    pcm_admin_client, connected, database
):
    change = new_change(connected)
    server(connected, change, "app", host_name="APP-07", fqdn="app-07.corp.example")
    server(connected, change, "worker", fqdn="ip-10-2-0-9.ec2.internal")
    await add_inventory_instances(database, PROD, "eu-west-1", [iid(4)], name="app-07")
    await add_inventory_instances(
        database, PROD, "eu-west-1", [iid(5)], name="unnamed", private_ip="10.2.0.9"
    )

    cis = by_name(await detail(pcm_admin_client, connected, change))

    assert (cis["app"]["matched_by"], cis["app"]["mapped_to"]["instance_id"]) == (
        "host name",
        iid(4),
    )
    assert (cis["worker"]["matched_by"], cis["worker"]["mapped_to"]["instance_id"]) == (
        "host name",
        iid(5),
    )


async def test_a_ci_that_maps_to_nothing_says_why(pcm_admin_client, connected, database):
    change = new_change(connected)
    server(connected, change, "gone", ip_address="10.9.9.9", host_name="gone-01")
    lb = connected.add("cmdb_ci", name="payments-lb", sys_class_name="cmdb_ci_lb")
    connected.add("task_ci", task=change, ci_item=lb)
    await add_inventory_instances(database, PROD, "eu-west-1", [iid(6)], private_ip="10.0.0.1")

    cis = by_name(await detail(pcm_admin_client, connected, change))

    assert cis["gone"]["mapped_to"] is None
    assert cis["gone"]["matched_by"] is None
    assert cis["gone"]["mapping_note"] == (
        "no instance in the inventory has IP address 10.9.9.9 or host name gone-01"
    )
    assert cis["payments-lb"]["mapping_note"] == "it names no instance id, IP address or host name"


async def test_an_ip_address_two_accounts_share_is_ambiguous_and_maps_to_nothing(
    pcm_admin_client, connected, database
):
    change = new_change(connected)
    server(connected, change, "shared", ip_address="10.3.0.3")
    await add_inventory_instances(database, PROD, "eu-west-1", [iid(7)], private_ip="10.3.0.3")
    await add_inventory_instances(database, OTHER, "us-east-1", [iid(8)], private_ip="10.3.0.3")

    [ci] = (await detail(pcm_admin_client, connected, change))["affected_cis"]

    assert ci["mapped_to"] is None
    assert ci["mapping_note"] == (
        f"ambiguous: IP address 10.3.0.3 is {iid(7)} (account {PROD}, eu-west-1), "
        f"{iid(8)} (account {OTHER}, us-east-1)"
    )


async def test_govcloud_instances_map_by_instance_id_and_by_ip(
    pcm_admin_client, connected, database
):
    change = new_change(connected)
    placed_vm(connected, change, "gov-web-01", iid(9), GOV, "us-gov-west-1")
    server(connected, change, "gov-batch", ip_address="10.50.0.7")
    await add_inventory_instances(database, GOV, "us-gov-west-1", [iid(9)], name="gov-web-01")
    await add_inventory_instances(
        database, GOV, "us-gov-west-1", [iid(10)], name="gov-batch", private_ip="10.50.0.7"
    )

    cis = by_name(await detail(pcm_admin_client, connected, change))
    resolved = await pcm_admin_client.post(
        RESOLVE, json={"reference": connected.get(change)["number"]}
    )

    assert [(ci["matched_by"], ci["mapped_to"]["region"]) for ci in cis.values()] == [
        ("instance id", "us-gov-west-1"),
        ("IP address", "us-gov-west-1"),
    ]
    assert resolved.status_code == 200, resolved.text
    assert sorted((t["instance_id"], t["account_id"], t["region"]) for t in resolved.json()) == [
        (iid(9), GOV, "us-gov-west-1"),
        (iid(10), GOV, "us-gov-west-1"),
    ]


async def test_the_target_source_uses_the_same_mapping_and_lists_what_maps_to_nothing(
    pcm_admin_client, connected, database
):
    mixed = new_change(connected)
    server(connected, mixed, "by-ip", ip_address="10.4.0.4")
    server(connected, mixed, "nowhere", ip_address="10.4.0.99")
    nothing = new_change(connected)
    server(connected, nothing, "nowhere-2", ip_address="10.4.0.98")
    await add_inventory_instances(database, PROD, "eu-west-1", [iid(11)], private_ip="10.4.0.4")

    resolved = await pcm_admin_client.post(
        RESOLVE, json={"reference": connected.get(mixed)["number"]}
    )
    refused = await pcm_admin_client.post(
        RESOLVE, json={"reference": connected.get(nothing)["number"]}
    )

    assert [(t["instance_id"], t["label"]) for t in resolved.json()] == [(iid(11), "by-ip")]
    assert refused.status_code == 422
    message = refused.json()["detail"][0]["msg"]
    assert "has no CI that maps to an EC2 instance" in message
    assert "nowhere-2: no instance in the inventory has IP address 10.4.0.98" in message


async def test_the_cmdb_lookup_shows_the_mapping(pcm_admin_client, connected, database):
    change = new_change(connected)
    server(connected, change, "lookup-me", ip_address="10.5.0.5")
    await add_inventory_instances(database, PROD, "eu-west-1", [iid(12)], private_ip="10.5.0.5")

    found = await pcm_admin_client.get(f"{API}/cis", params={"q": "10.5.0.5"})

    assert found.status_code == 200, found.text
    [item] = found.json()
    assert item["matched_by"] == "IP address"  # how the CMDB lookup found the CI
    assert (item["ci"]["matched_by"], item["ci"]["mapped_to"]["instance_id"]) == (
        "IP address",
        iid(12),
    )


async def test_the_change_page_shows_each_mapping_and_runs_on_the_mapped_instances(
    pcm_admin_client, connected, database
):
    change = new_change(connected)
    server(connected, change, "by-ip", ip_address="10.6.0.6")
    server(connected, change, "nowhere", ip_address="10.6.0.99")
    await add_inventory_instances(
        database, PROD, "eu-west-1", [iid(13)], name="web-13", private_ip="10.6.0.6"
    )

    page = await pcm_admin_client.get(
        f"{PAGES}/changes/{connected.get(change)['number']}", headers={"Accept": "text/html"}
    )

    assert page.status_code == 200, page.text
    assert "2 CI(s); 1 map to an EC2 instance." in page.text
    assert f"{iid(13)} (web-13)" in page.text
    assert "Online" in page.text
    assert "IP address" in page.text
    assert "no instance in the inventory has IP address 10.6.0.99" in page.text
    number = connected.get(change)["number"]
    assert (
        f"target_source=servicenow-change&amp;reference={number}&amp;change_reference={number}"
        in page.text
    )


class TestWithoutTheScriptRunner:
    @pytest.fixture
    def pcm_plugins(self) -> list[str]:
        return ["servicenow-cmdb"]

    async def test_cis_map_by_the_cmdb_instance_id_only_and_say_so(
        self, pcm_admin_client, connected
    ):
        change = new_change(connected)
        placed_vm(connected, change, "web-1", iid(1), PROD, "eu-west-1")
        server(connected, change, "by-ip", ip_address="10.1.0.5")

        body = await detail(pcm_admin_client, connected, change)
        cis = by_name(body)

        assert body["inventory"] is False
        assert cis["web-1"]["mapped_to"]["account_id"] == PROD
        assert cis["web-1"]["mapped_to"]["ping_status"] is None
        assert cis["web-1"]["mapping_note"] == ("the script runner is not installed: no SSM status")
        assert cis["by-ip"]["mapped_to"] is None
        assert "without the script runner's inventory" in cis["by-ip"]["mapping_note"]
