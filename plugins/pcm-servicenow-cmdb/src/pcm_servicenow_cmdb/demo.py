"""Demo mode (``pcm-ops serve --demo``): a fake ServiceNow in this process, whose CMDB holds
the demo fleet of pcm-aws-common and whose changes an operator can run scripts through.

At start-up (after aws-common's demo has built the fake AWS, ``app.state.aws_demo``):

- the fake ServiceNow (:class:`~pcm_servicenow_cmdb.testing.fake.FakeServiceNow`) starts on a
  free port of 127.0.0.1, its CMDB holding the demo accounts, their regions and every demo
  instance (*Hosted on* its region, *Hosted on* its account), plus a Linux server known
  only by its IP address (``prod-web-04``'s, under another name: it maps to that instance by
  IP once the script runner's inventory sync has run) and a CI that is no instance at all;
- its changes: **an approved change in Implement whose window is open now**, affecting three
  production web servers, the server known by IP and the CI that maps to nothing; one
  awaiting approval;
  one whose window has passed; one cancelled;
- the connection ``demo`` points at it (added once, its address brought up to date on each
  start: the port is new every time);
- the demo production accounts are gated: a run there needs a change, so an operator sees a
  run refused with its reasons, and then go through with the approved change.

Without aws-common's demo (the AWS plugins are not installed), the fake ServiceNow still
starts with its changes, without instances.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

logger = logging.getLogger("pcm_servicenow_cmdb.demo")

__all__ = ["CONNECTION", "start", "stop"]

#: The name of the demo's connection.
CONNECTION = "demo"
#: The production web servers the approved change affects.
CHANGE_SERVERS = ("prod-web-01", "prod-web-02", "prod-web-03")
#: The CMDB's name of a server it knows by IP address only, and the demo instance whose
#: private IP it has (a different name: it maps by IP, never by host name).
BY_IP_ONLY = ("storefront-legacy-04", "prod-web-04")
#: Its IP address when there is no fake AWS to ask (it then maps to nothing).
FALLBACK_IP = "10.20.30.40"
FORMAT = "%Y-%m-%d %H:%M:%S"


async def start(app: Any, record: Any) -> None:
    """Start the fake ServiceNow, fill it, point the ``demo`` connection at it and gate the
    demo production accounts (``record``: this plugin's registry record)."""
    import anyio.to_thread

    from pcm_servicenow_cmdb.testing.fake import FakeServiceNow

    began = time.monotonic()
    fake = await anyio.to_thread.run_sync(lambda: FakeServiceNow().start())
    app.state.servicenow_demo = fake
    try:
        aws = getattr(app.state, "aws_demo", None)
        ip = await anyio.to_thread.run_sync(lambda: _private_ip(aws, BY_IP_ONLY[1]))
        gated = _fill(fake, aws, ip or FALLBACK_IP)
        await _connect(app, fake)
    except BaseException:
        fake.stop()
        raise
    if gated and record.config is not None:
        gate = record.config.gate.model_copy(update={"accounts": gated})
        record.config = record.config.model_copy(update={"gate": gate})
    logger.info("demo mode: fake ServiceNow ready in %.1f s", time.monotonic() - began)
    _announce(fake.url, gated)


async def stop(app: Any) -> None:
    fake = getattr(app.state, "servicenow_demo", None)
    if fake is not None:
        fake.stop()
        app.state.servicenow_demo = None


def _private_ip(aws: Any, name: str) -> str | None:
    """The private IP address the fake AWS gave demo instance ``name`` (``None`` without a
    fake AWS, or when it cannot say)."""
    if aws is None or name not in aws.instances:
        return None
    from pcm_aws_common.demo import DEMO_ACCOUNTS, DEMO_FLEET

    instance = next(i for i in DEMO_FLEET if i.name == name)
    account = next(a for a in DEMO_ACCOUNTS if a.key == instance.account)
    try:
        ec2 = aws.moto.harness_client("ec2", account.account_id, instance.region)
        found = ec2.describe_instances(InstanceIds=[aws.instances[name]])
        ip = found["Reservations"][0]["Instances"][0].get("PrivateIpAddress")
    except Exception:
        logger.exception("demo mode: the private IP address of %s could not be read", name)
        return None
    return str(ip) if ip else None


def _fill(fake: Any, aws: Any, by_ip_address: str) -> list[str]:
    """The demo's CMDB and changes; returns the gated (production) account ids."""
    now = datetime.now(UTC)
    cis: dict[str, str] = {}
    gated: list[str] = []
    if aws is not None:
        from pcm_aws_common.demo import DEMO_ACCOUNTS, DEMO_FLEET

        regions: dict[tuple[str, str], str] = {}
        for account in DEMO_ACCOUNTS:
            account_ci = fake.add(
                "cmdb_ci_cloud_service_account", name=account.name, account_id=account.account_id
            )
            for region in account.regions:
                region_ci = fake.add("cmdb_ci_aws_datacenter", name=region, region=region)
                fake.relate(region_ci, account_ci)
                regions[(account.key, region)] = region_ci
            if account.environment == "production" and account.partition == "aws":
                gated.append(account.account_id)
        for instance in DEMO_FLEET:
            instance_id = aws.instances.get(instance.name)
            if instance_id is None:
                continue
            ci = fake.add("cmdb_ci_vm_instance", name=instance.name, object_id=instance_id)
            fake.relate(ci, regions[(instance.account, instance.region)])
            cis[instance.name] = ci
    by_ip = fake.add(
        "cmdb_ci_linux_server", name=BY_IP_ONLY[0], host_name=BY_IP_ONLY[0],
        ip_address=by_ip_address,
    )  # fmt: skip
    nothing = fake.add("cmdb_ci", name="payments-load-balancer", sys_class_name="cmdb_ci_lb")
    approved = _change(
        fake,
        "Patch the storefront web servers",
        state="-1",
        approval="approved",
        start=now - timedelta(hours=1),
        end=now + timedelta(hours=3),
    )
    for name in CHANGE_SERVERS:
        if name in cis:
            fake.add("task_ci", task=approved, ci_item=cis[name])
    for ci in (by_ip, nothing):
        fake.add("task_ci", task=approved, ci_item=ci)
    waiting = _change(
        fake,
        "Rotate the payment API keys",
        state="-3",
        approval="requested",
        start=now + timedelta(days=1),
        end=now + timedelta(days=1, hours=2),
    )
    passed = _change(
        fake,
        "Restart the workers",
        state="-1",
        approval="approved",
        start=now - timedelta(days=1, hours=2),
        end=now - timedelta(days=1),
    )
    cancelled = _change(
        fake,
        "Resize the databases",
        state="4",
        approval="approved",
        start=now + timedelta(hours=1),
        end=now + timedelta(hours=2),
    )
    for change, name in (
        (waiting, "prod-api-01"),
        (passed, "prod-worker-01"),
        (cancelled, "prod-db-01"),
    ):
        if name in cis:
            fake.add("task_ci", task=change, ci_item=cis[name])
    return gated


def _change(
    fake: Any, text: str, *, state: str, approval: str, start: datetime, end: datetime
) -> str:
    return str(
        fake.add(
            "change_request",
            short_description=text,
            type="normal",
            state=state,
            approval=approval,
            on_hold="false",
            risk="4",
            start_date=start.strftime(FORMAT),
            end_date=end.strftime(FORMAT),
        )
    )


async def _connect(app: Any, fake: Any) -> None:
    """The ``demo`` connection, at the fake's address of this start."""
    from pcm_ops.db.types import utcnow
    from pcm_servicenow_cmdb.models import SnowConnection
    from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

    async with app.state.database.session() as session:
        row = (
            await session.exec(select(SnowConnection).where(SnowConnection.name == CONNECTION))
        ).first()
        if row is None:
            row = SnowConnection(
                name=CONNECTION, base_url=fake.url, auth_kind="basic", created_by="demo"
            )
        row.base_url, row.username, row.password = fake.url, DEFAULT_USERNAME, DEFAULT_PASSWORD
        row.last_checked_at = row.last_success_at = row.updated_at = utcnow()
        row.last_error = ""
        session.add(row)


def _announce(url: str, gated: list[str]) -> None:
    """Say, next to core's and aws-common's demo banners, where the fake ServiceNow is."""
    import sys

    import click

    click.secho(
        f"\n  DEMO SNOW   fake ServiceNow (in this process): {url} (connection {CONNECTION!r})\n"
        "              4 changes; /tools/servicenow/cmdb/ lists them. Runs on account(s) "
        f"{', '.join(gated) or 'none'} need a change.\n",
        fg="yellow",
        bold=True,
        err=True,
    )
    sys.stderr.flush()
