"""The inventory sync: a durable job that reads every chosen account-region from AWS into
the inventory tables.

``aws-script-runner.inventory_sync`` (enqueued by
:func:`pcm_aws_script_runner.services.inventory.enqueue_sync`) and
``aws-script-runner.inventory_sync_scheduled`` (the ``inventory-sync`` schedule, every
account and region) run on the queue ``aws-script-runner.inventory``, one at a time.

1. *Plan* (a step): the accounts registry gives the account-regions, each with its
   partition (Commercial or GovCloud: the client factory signs for it).
2. One step per account-region, all started at once (at most
   ``inventory_sync_concurrency`` of them reading AWS at a time): ``DescribeInstances``
   (every page, terminated instances left out) and ``DescribeInstanceInformation`` (pages
   of 50) at the same time, joined by instance id and written in one transaction. A
   failure is recorded in that account-region's sync state (AWS's code and message) and
   does not stop the others; its rows stay as the last success left them.
3. A full sync then forgets account-regions no longer in the registry.

Progress goes to the job's stream (``GET /api/jobs/<id>/events``) and to
``aws-script-runner:inventory``: ``sync.started``, ``account_region.synced`` /
``account_region.failed`` (one per account-region), ``sync.finished``. The job fails
when every account-region failed. Imported only by the job engine.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import Any

from dbos import DBOS

from pcm_aws_script_runner.domain import InstanceState, SyncStatus
from pcm_aws_script_runner.ids import SYNC_WORKFLOW
from pcm_aws_script_runner.jobs.runtime import Runtime, runtime
from pcm_aws_script_runner.services.inventory.sync_writes import (
    forget_account_regions,
    join_instances,
    mark_sync_error,
    mark_sync_started,
    refresh_statistics,
    save_account_region,
)
from pcm_ops.jobs import publish_async, publish_job_event_async

logger = logging.getLogger("pcm_aws_script_runner.inventory")

__all__ = ["STREAM", "InventorySyncFailed", "inventory_sync", "inventory_sync_scheduled"]

#: The stream every sync publishes its progress to.
STREAM = "aws-script-runner:inventory"
#: Who the scheduled sync acts as (it names the AWS role sessions).
SCHEDULER = "scheduler"
#: EC2 states worth keeping (terminated instances disappear from EC2 within the hour).
LIVE_STATES = [state.value for state in InstanceState]
#: DescribeInstanceInformation returns at most 50 per page.
SSM_PAGE_SIZE = 50
EC2_PAGE_SIZE = 1000


class InventorySyncFailed(Exception):
    """Every account-region of the sync failed (each one's error is in its sync state)."""


async def _publish(event_type: str, data: dict[str, Any]) -> None:
    await publish_job_event_async(event_type, data)
    await publish_async(STREAM, event_type, {"job_id": DBOS.workflow_id, **data})


# -------------------------------------------------------------------------------------------
# Steps
# -------------------------------------------------------------------------------------------


@DBOS.step(name="aws-script-runner.inventory_plan")
async def plan_sync(account_regions: list[list[str]] | None) -> dict[str, Any]:
    """The account-regions to sync (``targets``: ``[account, region, partition]``) and
    those asked for that the registry does not allow (``refused``: ``[account, region,
    reason]``)."""
    aws = (await runtime()).aws
    accounts = {account.account_id: account for account in await aws.list_accounts()}
    if account_regions is None:
        targets = [
            [account.account_id, region, account.partition]
            for account in accounts.values()
            for region in account.regions
        ]
        return {"targets": targets, "refused": []}
    targets, refused = [], []
    for account_id, region in account_regions:
        info = accounts.get(account_id)
        if info is None:
            refused.append(
                [account_id, region, f"account {account_id} is not in the accounts registry"]
            )
        elif region not in info.regions:
            refused.append(
                [
                    account_id,
                    region,
                    f"region {region} is not enabled for {info.label}; enable it in the "
                    "accounts registry",
                ]
            )
        else:
            targets.append([account_id, region, info.partition])
    return {"targets": targets, "refused": refused}


_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _limit(rt: Runtime) -> asyncio.Semaphore:
    """How many account-regions this process reads from AWS at once (per event loop)."""
    loop = asyncio.get_running_loop()
    found = _limits.get(loop)
    if found is None:
        found = _limits[loop] = asyncio.Semaphore(rt.config.inventory_sync_concurrency)
    return found


def _writing(rt: Runtime) -> AbstractAsyncContextManager[Any]:
    """Around the steps' writes: on SQLite, one at a time in this process. SQLite has one
    writer; concurrent writers wait in its busy handler, whose growing sleeps cost seconds
    when many account-regions finish together. Queued here, each write takes milliseconds.
    PostgreSQL writes the account-regions side by side."""
    if not rt.settings.is_sqlite:
        return nullcontext()
    loop = asyncio.get_running_loop()
    found = _write_locks.get(loop)
    if found is None:
        found = _write_locks[loop] = asyncio.Lock()
    return found


def _error_text(exc: BaseException) -> str:
    """What went wrong, for the operator: AWS's code and message, never a traceback."""
    from pcm_aws_common.services.clients import aws_error
    from pcm_aws_common.services.errors import AwsAccessError

    if isinstance(exc, AwsAccessError):
        return str(exc)
    code, message = aws_error(exc)
    operation = getattr(exc, "operation_name", None)
    where = f"{operation}: " if operation else ""
    return f"{where}{code}: {message}"


async def _ec2_instances(rt: Runtime, account_id: str, region: str, user: str) -> list[Any]:
    found: list[Any] = []
    async with rt.aws.client("ec2", account=account_id, region=region, user=user) as ec2:
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": LIVE_STATES}],
            PaginationConfig={"PageSize": EC2_PAGE_SIZE},
        )
        async for page in pages:
            for reservation in page.get("Reservations", ()):
                found.extend(reservation.get("Instances", ()))
    return found


async def _managed_instances(rt: Runtime, account_id: str, region: str, user: str) -> list[Any]:
    found: list[Any] = []
    async with rt.aws.client("ssm", account=account_id, region=region, user=user) as ssm:
        pages = ssm.get_paginator("describe_instance_information").paginate(
            PaginationConfig={"PageSize": SSM_PAGE_SIZE}
        )
        async for page in pages:
            found.extend(page.get("InstanceInformationList", ()))
    return found


@DBOS.step(name="aws-script-runner.inventory_sync_account_region")
async def sync_account_region(
    account_id: str, region: str, partition: str, requested_by: str
) -> dict[str, Any]:
    """Read one account-region from AWS and replace its rows; never raises: a failure is
    recorded in its sync state and returned (``status`` ``error``). Its events carry a key
    of the job, the step and their position: a step run again after a crash does not
    publish them twice."""
    rt = await runtime()
    job_id = DBOS.workflow_id
    where: dict[str, Any] = {"account_id": account_id, "region": region, "partition": partition}
    async with _limit(rt):
        try:
            ec2_items, ssm_items = await asyncio.gather(
                _ec2_instances(rt, account_id, region, requested_by),
                _managed_instances(rt, account_id, region, requested_by),
            )
            records = join_instances(ec2_items, ssm_items)
            async with _writing(rt), rt.database.session() as session:
                result = await save_account_region(
                    session, account_id, region, records, job_id=job_id
                )
        except Exception as exc:
            error = _error_text(exc)
            logger.warning("inventory sync of %s %s failed: %s", account_id, region, error)
            outcome = {**where, "status": SyncStatus.ERROR.value, "error": error}
            async with _writing(rt):
                async with rt.database.session() as session:
                    await mark_sync_error(session, account_id, region, error, job_id=job_id)
                await _publish("account_region.failed", outcome)
            return outcome
    outcome = {
        **where,
        "status": SyncStatus.OK.value,
        "instances": result.total,
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
    }
    async with _writing(rt):
        await _publish("account_region.synced", outcome)
    return outcome


@DBOS.step(name="aws-script-runner.inventory_mark_started")
async def mark_started(targets: list[list[str]], job_id: str) -> None:
    """Show every account-region of the sync as ``running``, in one transaction."""
    rt = await runtime()
    async with rt.database.session() as session:
        for account_id, region, _ in targets:
            await mark_sync_started(session, account_id, region, job_id=job_id)


@DBOS.step(name="aws-script-runner.inventory_record_refused")
async def record_refused(refused: list[list[str]], job_id: str) -> None:
    """Show the account-regions asked for that the registry does not allow as failed."""
    rt = await runtime()
    async with rt.database.session() as session:
        for account_id, region, reason in refused:
            await mark_sync_error(session, account_id, region, reason, job_id=job_id)


@DBOS.step(name="aws-script-runner.inventory_forget")
async def forget_removed(targets: list[list[str]]) -> list[list[str]]:
    """Delete the rows of account-regions no longer in the registry."""
    rt = await runtime()
    async with rt.database.session() as session:
        forgotten = await forget_account_regions(session, [(a, r) for a, r, _ in targets])
    return [list(pair) for pair in forgotten]


@DBOS.step(name="aws-script-runner.inventory_statistics")
async def update_statistics() -> None:
    """Keep PostgreSQL's planner right about the tables the sync just changed."""
    rt = await runtime()
    async with rt.database.session() as session:
        await refresh_statistics(session)


# -------------------------------------------------------------------------------------------
# Workflows
# -------------------------------------------------------------------------------------------


async def _run(account_regions: list[list[str]] | None, requested_by: str) -> dict[str, Any]:
    job_id = DBOS.workflow_id or ""
    plan = await plan_sync(account_regions)
    targets, refused = plan["targets"], plan["refused"]
    await _publish(
        "sync.started",
        {"account_regions": len(targets), "refused": len(refused), "full": account_regions is None},
    )
    if refused:
        await record_refused(refused, job_id)
    if targets:
        await mark_started(targets, job_id)
    # Every step is called (and so numbered) here, in order, before any runs: DBOS's step
    # ids stay the same when a resumed job runs this again.
    outcomes = await asyncio.gather(
        *[
            sync_account_region(account_id, region, partition, requested_by)
            for account_id, region, partition in targets
        ]
    )
    forgotten = await forget_removed(targets) if account_regions is None else []
    if targets:
        await update_statistics()
    failed = [o for o in outcomes if o["status"] == SyncStatus.ERROR] + [
        {"account_id": a, "region": r, "status": SyncStatus.ERROR.value, "error": reason}
        for a, r, reason in refused
    ]
    summary = {
        "account_regions": len(targets) + len(refused),
        "synced": len(outcomes) - sum(o["status"] == SyncStatus.ERROR for o in outcomes),
        "failed": len(failed),
        "instances": sum(o.get("instances", 0) for o in outcomes),
        "forgotten": forgotten,
        "errors": [
            {"account_id": o["account_id"], "region": o["region"], "error": o["error"]}
            for o in failed
        ],
    }
    await _publish("sync.finished", summary)
    if failed and len(failed) == summary["account_regions"]:
        raise InventorySyncFailed(
            f"every account-region failed ({len(failed)}); first: {failed[0]['account_id']} "
            f"{failed[0]['region']}: {failed[0]['error']}"
        )
    return summary


@DBOS.workflow(name=SYNC_WORKFLOW)
async def inventory_sync(
    account_regions: list[list[str]] | None, requested_by: str
) -> dict[str, Any]:
    """Sync ``account_regions`` (``[[account, region], ...]``; ``None``: everything)."""
    return await _run(account_regions, requested_by)


@DBOS.workflow(name="aws-script-runner.inventory_sync_scheduled")
async def inventory_sync_scheduled(scheduled_at: datetime, context: Any) -> dict[str, Any]:
    """The scheduled sync of every account and region."""
    return await _run(None, SCHEDULER)
