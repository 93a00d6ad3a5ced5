"""Demo mode's fake AWS: moto in this process, its fleet, and the registry entries reaching it.

The server end to end (``pcm-ops serve --demo`` in a subprocess, restarted) is tested with
the script runner, whose demo scripts and inventory sync belong to the same start.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from types import SimpleNamespace

import pytest
from sqlmodel import select

from pcm_aws_common import demo
from pcm_aws_common.config import AwsCommonSettings
from pcm_aws_common.models import AwsAccount, AwsCredentialSource
from pcm_aws_common.services.clients import AwsClients
from pcm_ops.audit import AuditEvent
from pcm_ops.settings import plugin_section

ENDPOINT = "PCM_AWS_COMMON__ENDPOINT_URL"
#: For the tests whose outcome does not depend on the database.
SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def demo_settings(make_pcm_settings):
    return make_pcm_settings(demo=True)


@pytest.fixture
def restore_endpoint(monkeypatch):
    """Demo mode sets the endpoint variables of the process: put them back after the test."""
    for name in demo.ENDPOINT_VARIABLES:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)


@SQLITE_ONLY
def test_demo_mode_without_moto_stops_the_server_with_one_line_saying_what_to_install(
    demo_settings, make_pcm_registry, make_pcm_app, monkeypatch
):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a)
    )
    registry = make_pcm_registry(settings=demo_settings)

    with pytest.raises(SystemExit) as stopped:
        make_pcm_app(settings=demo_settings, registry=registry)

    message = str(stopped.value.code)
    assert "\n" not in message
    assert message.startswith("Error: demo mode needs moto")
    assert message.endswith("install it with: pip install 'pcm-aws-common[demo]'")


@SQLITE_ONLY
def test_building_the_demo_app_points_every_aws_client_of_the_process_at_the_fake_aws(
    demo_settings, make_pcm_registry, make_pcm_app, restore_endpoint
):
    registry = make_pcm_registry(settings=demo_settings)

    make_pcm_app(settings=demo_settings, registry=registry)
    sock, _ = demo._PREPARED.pop(id(demo_settings))
    try:
        url = os.environ[ENDPOINT]
        # What a job process builds from the settings (AwsClients.from_settings) sees it too.
        config = AwsCommonSettings.model_validate(plugin_section(demo_settings, "aws-common"))
        host, port = sock.getsockname()[:2]
        with socket.create_connection((host, port), timeout=1):
            pass  # someone listens there already: early requests wait for moto
    finally:
        sock.close()

    assert url == f"http://127.0.0.1:{port}"
    assert (config.endpoint_url, config.endpoint_urls) == (url, {})


@pytest.fixture(scope="module")
def fake_aws():
    """The demo's fake AWS, built once for this module: moto's state is the process's, and
    a second world would meet the first's users and roles (a demo process builds one)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in demo.ENDPOINT_VARIABLES:
            patch.delenv(name, raising=False)
        fake = demo._start_moto(None, None)
        try:
            yield fake
        finally:
            fake.moto.reset_controls()  # the SSM rule and agent facts are process-wide too
            fake.moto.stop()


@pytest.fixture
async def started(fake_aws, seeded_database):
    """The fake AWS registered in the test's database, as a demo start does."""
    demo.fake_ssm(fake_aws)  # the moto_aws fixture resets SSM's controls after each test
    app = SimpleNamespace(state=SimpleNamespace(database=seeded_database, aws_demo=fake_aws))
    config = AwsCommonSettings(endpoint_url=fake_aws.endpoint_url)
    async with AwsClients(seeded_database, config) as clients:
        await demo.register(app, clients)
        yield SimpleNamespace(app=app, clients=clients, fake=fake_aws, config=config)


async def _rows(database, model):
    async with database.session() as session:
        return list((await session.exec(select(model))).all())


async def test_the_fake_aws_has_three_accounts_in_two_partitions_and_the_fleet(started):
    accounts = {a.account_id: a for a in await _rows(started.app.state.database, AwsAccount)}
    sources = await _rows(started.app.state.database, AwsCredentialSource)

    assert sorted((a.name, a.partition_id) for a in accounts.values()) == [
        ("Demo Development", "aws"),
        ("Demo GovCloud", "aws-us-gov"),
        ("Demo Production", "aws"),
    ]
    assert accounts["300000000003"].regions == ["us-gov-west-1", "us-gov-east-1"]
    assert accounts["300000000003"].role_arn == "arn:aws-us-gov:iam::300000000003:role/PcmOpsDemo"
    assert accounts["200000000001"].role_arn is None
    assert sorted((s.name, s.partition_id, s.owner_id, s.status) for s in sources) == [
        ("Demo Commercial keys", "aws", None, "valid"),
        ("Demo GovCloud keys", "aws-us-gov", None, "valid"),
    ]


@SQLITE_ONLY
async def test_every_demo_account_is_reached_directly_or_by_assume_role(started):
    identities = {
        account.account_id: await started.clients.caller_identity(account=account.account_id)
        for account in demo.DEMO_ACCOUNTS
    }

    assert identities["200000000001"].arn.startswith("arn:aws:iam::200000000001:user/")
    assert identities["200000000002"].arn.startswith(
        "arn:aws:sts::200000000002:assumed-role/PcmOpsDemo/"
    )
    assert identities["300000000003"].arn.startswith(
        "arn:aws-us-gov:sts::300000000003:assumed-role/PcmOpsDemo/"
    )


@SQLITE_ONLY
async def test_the_fleet_is_tagged_across_regions_and_some_instances_lack_the_agent(started):
    found, managed = {}, set()
    ours = set(started.fake.instances.values())
    for account in demo.DEMO_ACCOUNTS:
        for region in account.regions:
            target = {"account": account.account_id, "region": region}
            async with started.clients.client("ec2", **target) as ec2:
                pages = ec2.get_paginator("describe_instances").paginate()
                async for page in pages:
                    for reservation in page["Reservations"]:
                        for instance in reservation["Instances"]:
                            if instance["InstanceId"] not in ours:
                                continue
                            tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
                            found[tags["Name"]] = (account.key, region, tags)
            async with started.clients.client("ssm", **target) as ssm:
                described = await ssm.describe_instance_information()
                managed |= {i["InstanceId"] for i in described["InstanceInformationList"]}

    assert len(found) == len(demo.DEMO_FLEET) == 36
    assert {region for _, region, _ in found.values()} == {
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "us-east-2",
        "us-gov-west-1",
        "us-gov-east-1",
    }
    assert found["gov-db-01"][2] == {
        "Name": "gov-db-01",
        "Environment": "production",
        "Team": "civic",
        "Role": "database",
        "pcm-demo:outcome": "fail",
    }
    outcomes = {tags["pcm-demo:outcome"] for _, _, tags in found.values()}
    assert {"success", "fail", "timeout", "slow"} <= outcomes
    without_agent = {name for name, (_, _, tags) in found.items() if "pcm-demo:agent" in tags}
    unmanaged = {name for name in without_agent if started.fake.instances[name] not in managed}
    assert unmanaged == {"prod-eu-web-02", "dev-db-01"}


@SQLITE_ONLY
async def test_commands_on_the_demo_fleet_take_time_and_end_as_the_tags_say(started):
    from pcm_aws_common.testing.ssm import STATE

    instance = started.fake.instances["prod-api-03"]  # pcm-demo:outcome = fail
    target = {"account": "200000000001", "region": "us-east-1"}
    async with started.clients.client("ssm", **target) as ssm:
        sent = await ssm.send_command(
            InstanceIds=[instance],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["uptime"]},
        )
        command_id = sent["Command"]["CommandId"]
        now = await ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)

    assert now["Status"] == "InProgress"
    assert STATE.pending[(command_id, instance)].outcome.status == "Failed"


async def test_registering_again_adds_nothing_and_gives_the_sources_the_new_keys(started):
    database = started.app.state.database
    # A new start has a new moto, whose keys are new: the old key is gone.
    iam = started.fake.moto.harness_client("iam", "200000000001")
    iam.delete_access_key(UserName="pcm-ops", AccessKeyId=started.fake.keys["aws"][0])
    renewed = iam.create_access_key(UserName="pcm-ops")["AccessKey"]
    started.fake.keys["aws"] = (renewed["AccessKeyId"], renewed["SecretAccessKey"])

    await demo.register(started.app, started.clients)

    accounts = await _rows(database, AwsAccount)
    sources = {s.name: s for s in await _rows(database, AwsCredentialSource)}
    actions = [e.action for e in await _rows(database, AuditEvent) if e.actor == "demo"]
    assert len(accounts) == 3
    assert sorted(sources) == ["Demo Commercial keys", "Demo GovCloud keys"]
    assert sources["Demo Commercial keys"].access_key_id == renewed["AccessKeyId"]
    assert sources["Demo Commercial keys"].status == "valid"
    assert actions.count("aws-common.account.create") == 3
    assert actions.count("aws-common.credentials.create") == 2
    assert actions.count("aws-common.credentials.update") == 2


@SQLITE_ONLY
async def test_start_and_stop_point_the_process_at_the_fake_aws_and_back(
    pcm_settings, restore_endpoint, monkeypatch
):
    monkeypatch.setattr(demo, "_build_world", lambda fake: None)
    monkeypatch.setattr(demo, "fake_ssm", lambda fake: None)
    before = os.environ.get(ENDPOINT)
    app = SimpleNamespace(state=SimpleNamespace())

    config = await demo.start(
        app, pcm_settings, AwsCommonSettings(endpoint_urls={"ssm": "https://x"})
    )
    during = os.environ.get(ENDPOINT)
    await demo.stop(app)

    assert during == config.endpoint_url
    assert str(during).startswith("http://127.0.0.1:")
    assert config.endpoint_urls == {}
    assert os.environ.get(ENDPOINT) == before
    assert app.state.aws_demo is None
