"""``pcm-ops script-runner inventory ...``: the fleet inventory from the command line.

``list`` and ``status`` read the database; ``sync`` queues a sync job, which a running
``pcm-ops serve`` (or ``pcm-ops worker``) on the same database runs, and ``--wait`` follows
it to the end.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from pcm_aws_script_runner.domain import SyncStatus
from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import cli_actor, run_in_session


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


@click.group("inventory")
def inventory() -> None:
    """The fleet inventory: list instances, see the sync state, sync from AWS."""


@inventory.command("list")
@click.option("--account", "accounts", multiple=True, help="Account id; repeat for several.")
@click.option("--region", "regions", multiple=True, help="Region; repeat for several.")
@click.option("--state", "states", multiple=True, help="EC2 state (running, stopped, ...).")
@click.option("--platform", "platforms", multiple=True, help="Linux, Windows or MacOS.")
@click.option(
    "--ping-status",
    "ping_statuses",
    multiple=True,
    help="Online, ConnectionLost, Inactive, NotManaged.",
)
@click.option(
    "--tag", "tags", multiple=True, help="KEY=VALUE, or KEY for any value; all must match."
)
@click.option("--search", "-q", default="", help="Text in the name or instance id.")
@click.option("--sort", default="name", show_default=True, help="Column to sort by.")
@click.option("--desc", is_flag=True, help="Sort in descending order.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(
    obj: CliContext,
    accounts: tuple[str, ...],
    regions: tuple[str, ...],
    states: tuple[str, ...],
    platforms: tuple[str, ...],
    ping_statuses: tuple[str, ...],
    tags: tuple[str, ...],
    search: str,
    sort: str,
    desc: bool,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List the instances of the inventory that match the filters."""
    from pcm_aws_script_runner.api.schemas.inventory import instance_out
    from pcm_aws_script_runner.services import inventory as service

    flt = service.filter_from_query(
        {
            "account_id": list(accounts),
            "region": list(regions),
            "state": list(states),
            "platform": list(platforms),
            "ping_status": list(ping_statuses),
            "tag": list(tags),
            "q": [search],
        }
    )

    async def work(session: Any) -> tuple[list[Any], int]:
        return await service.query_instances(
            session, flt, sort=sort, descending=desc, limit=limit, offset=offset
        )

    rows, total = run_in_session(obj.settings(), work)
    if as_json:
        page = {
            "items": [instance_out(row).model_dump(mode="json") for row in rows],
            "total": total,
            "offset": offset,
            "limit": limit,
        }
        click.echo(json.dumps(page, indent=2))
        return
    if not rows:
        click.echo(
            "No instance matches." if total or not flt.is_empty else "The inventory is empty."
        )
        return
    for row in rows:
        click.echo(
            f"{row.instance_id:<20} {row.account_id} {row.region:<15} {row.state or '-':<9} "
            f"{row.platform:<8} {row.ping_status:<15} {row.private_ip:<15} {row.name}"
        )
    shown = f"{offset + 1}-{offset + len(rows)} of {total}"
    click.echo(
        f"({shown} matching; --offset {offset + len(rows)} for more)"
        if offset + len(rows) < total
        else f"({shown})"
    )


@inventory.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: CliContext, as_json: bool) -> None:
    """When each account-region was synced, and the errors of the last syncs."""
    from dataclasses import asdict

    from pcm_aws_script_runner.services import inventory as service

    async def work(session: Any) -> Any:
        return await service.inventory_status(session, await _registry_account_regions(obj))

    found = run_in_session(obj.settings(), work)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "last_synced_at": found.last_synced_at,
                    "oldest_success_at": found.oldest_success_at,
                    "running": found.running,
                    "instance_count": found.instance_count,
                    "account_regions": [asdict(s) for s in found.account_regions],
                    "errors": [asdict(s) for s in found.errors],
                },
                indent=2,
                default=lambda value: value.isoformat(),
            )
        )
        return
    click.echo(f"last synced: {_when(found.last_synced_at)}; {found.instance_count} instance(s)")
    for s in found.account_regions:
        line = (
            f"{s.account_id} {s.region:<15} {s.status:<8} {s.instance_count:>6}  "
            f"last success {_when(s.last_success_at)}"
        )
        click.echo(
            line + (f"\n    error: {s.error}" if s.error and s.status == SyncStatus.ERROR else "")
        )
    if found.errors:
        click.echo(f"{len(found.errors)} account-region(s) failed to sync; see the errors above.")


async def _registry_account_regions(obj: CliContext) -> list[tuple[str, str]] | None:
    """Every account-region of aws-common's registry (``None`` without aws-common)."""
    record = obj.registry().get("aws-common")
    if record is None or not record.loaded:
        return None
    from pcm_aws_common.services.clients import AwsClients

    async with AwsClients.from_settings(obj.settings()) as aws:
        accounts = await aws.list_accounts()
    return [(account.account_id, region) for account in accounts for region in account.regions]


def _chosen(
    known: list[tuple[str, str]] | None, accounts: tuple[str, ...], regions: tuple[str, ...]
) -> list[tuple[str, str]] | None:
    """The account-regions ``--account`` and ``--region`` name (``None``: everything)."""
    from pcm_aws_script_runner.services.errors import InvalidInput
    from pcm_aws_script_runner.services.inventory import filter_from_query

    if not accounts and not regions:
        return None
    try:
        filter_from_query({"account_id": list(accounts), "region": list(regions)})
    except InvalidInput as exc:
        raise InvalidInput(
            (f"--{field.removesuffix('_id')}", m) for field, m in exc.problems
        ) from None
    if known is None:
        raise InvalidInput([("--account", "the aws-common plugin is not enabled")])
    chosen = [
        (account, region)
        for account, region in known
        if (not accounts or account in accounts) and (not regions or region in regions)
    ]
    missing = [a for a in accounts if a not in {account for account, _ in known}]
    if missing:
        raise InvalidInput([("--account", f"{', '.join(missing)} not in the accounts registry")])
    if not chosen:
        raise InvalidInput([("--region", "no registered account has these regions enabled")])
    return chosen


@inventory.command()
@click.option("--account", "accounts", multiple=True, help="Only this account; repeat for several.")
@click.option("--region", "regions", multiple=True, help="Only this region; repeat for several.")
@click.option("--wait", is_flag=True, help="Follow the job until it ends (exit 1 if it failed).")
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=600,
    show_default=True,
    help="With --wait: seconds.",
)
@click.pass_obj
def sync(
    obj: CliContext, accounts: tuple[str, ...], regions: tuple[str, ...], wait: bool, timeout: int
) -> None:
    """Queue a sync of the inventory from AWS (default: every account and region).

    A running `pcm-ops serve` or `pcm-ops worker` on the same database runs it.
    """
    import asyncio

    from pcm_ops.jobs.engine import JobEngine

    settings = obj.settings()
    known = asyncio.run(_registry_account_regions(obj))
    chosen = _chosen(known, accounts, regions)
    engine = JobEngine(settings, obj.registry(), kind="server", executes=False)
    engine.start()
    try:
        from pcm_aws_script_runner.services.inventory import enqueue_sync

        job_id = asyncio.run(enqueue_sync(account_regions=chosen, requested_by=cli_actor()))
        what = "every account and region" if chosen is None else f"{len(chosen)} account-region(s)"
        click.echo(f"sync of {what} queued: job {job_id}")
        if not wait:
            click.echo(f"follow it with: pcm-ops jobs show {job_id}")
            return
        _wait(engine, job_id, timeout)
    finally:
        engine.stop()


def _wait(engine: Any, job_id: str, timeout: int) -> None:
    deadline = time.monotonic() + timeout
    store = engine.store()
    while True:
        job = store.get(job_id, with_steps=False)
        state = job.state.value
        if state in ("succeeded", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            hint = (
                "no server or worker took it: start `pcm-ops serve` or `pcm-ops worker`"
                if state == "queued"
                else "it is still running"
            )
            raise click.ClickException(f"job {job_id} is {state} after {timeout} s; {hint}")
        time.sleep(0.5)
    result = job.result if isinstance(getattr(job, "result", None), dict) else {}
    if result:
        click.echo(
            f"{state}: {result.get('synced', 0)} account-region(s) synced, "
            f"{result.get('failed', 0)} failed, {result.get('instances', 0)} instance(s)"
        )
        for error in result.get("errors", []):
            click.echo(f"  {error['account_id']} {error['region']}: {error['error']}")
    if state != "succeeded":
        raise click.ClickException(f"job {job_id} {state}: {getattr(job, 'error', '') or ''}")
