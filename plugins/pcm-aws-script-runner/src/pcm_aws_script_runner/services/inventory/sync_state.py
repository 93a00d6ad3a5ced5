"""The sync state of each account-region, and starting a sync (the job runs in
:mod:`pcm_aws_script_runner.jobs.inventory`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import col, select

from pcm_aws_script_runner.domain import SyncStatus
from pcm_aws_script_runner.ids import (
    INVENTORY_QUEUE,
    INVENTORY_SYNC_ACTION,
    SYNC_WORKFLOW,
)
from pcm_aws_script_runner.models import (
    AwsSrInventorySync,
)
from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.inventory.filters import clean_account_regions
from pcm_ops import audit

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_ops.audit import Actor


@dataclass(frozen=True)
class AccountRegionStatus:
    """How fresh one account-region's rows are.

    ``status`` is ``ok`` or ``error`` (the last attempt's outcome), ``running`` during one,
    or ``never`` for an account-region of the registry that was never synced.
    """

    account_id: str
    region: str
    status: str
    error: str = ""
    instance_count: int = 0
    job_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_success_at: datetime | None = None


@dataclass(frozen=True)
class InventoryStatus:
    """The sync state of the whole inventory."""

    account_regions: list[AccountRegionStatus]

    @property
    def last_synced_at(self) -> datetime | None:
        """When a sync of some account-region last succeeded."""
        times = [s.last_success_at for s in self.account_regions if s.last_success_at]
        return max(times) if times else None

    @property
    def oldest_success_at(self) -> datetime | None:
        """The least fresh account-region's last success (``None`` if one never succeeded):
        no row of the inventory is older than this."""
        times = [s.last_success_at for s in self.account_regions]
        if not times or any(time is None for time in times):
            return None
        return min(time for time in times if time is not None)

    @property
    def errors(self) -> list[AccountRegionStatus]:
        """The account-regions whose last sync failed."""
        return [s for s in self.account_regions if s.status == SyncStatus.ERROR]

    @property
    def running(self) -> bool:
        return any(s.status == SyncStatus.RUNNING for s in self.account_regions)

    @property
    def instance_count(self) -> int:
        return sum(s.instance_count for s in self.account_regions)


async def inventory_status(
    session: AsyncSession, expected: Iterable[tuple[str, str]] | None = None
) -> InventoryStatus:
    """Every account-region's sync state, by account and region.

    :param expected: the account-regions of the accounts registry; those never synced are
        listed with status ``never``.
    """
    statement = select(AwsSrInventorySync).order_by(
        col(AwsSrInventorySync.account_id), col(AwsSrInventorySync.region)
    )
    rows = {(row.account_id, row.region): row for row in (await session.exec(statement)).all()}
    found = [
        AccountRegionStatus(
            account_id=row.account_id,
            region=row.region,
            status=row.status,
            error=row.error,
            instance_count=row.instance_count,
            job_id=row.job_id,
            started_at=row.started_at,
            finished_at=row.finished_at,
            last_success_at=row.last_success_at,
        )
        for row in rows.values()
    ]
    for account_id, region in dict.fromkeys(expected or ()):
        if (account_id, region) not in rows:
            found.append(AccountRegionStatus(account_id, region, "never"))
    found.sort(key=lambda s: (s.account_id, s.region))
    return InventoryStatus(found)


async def enqueue_sync(
    *, account_regions: list[tuple[str, str]] | None = None, requested_by: str
) -> str:
    """Queue an inventory sync; return its job id (follow it at ``/api/jobs/<id>``).

    Needs the job engine of a server or worker (it raises ``pcm_ops.jobs.JobsError``
    elsewhere).

    :param account_regions: ``[("123456789012", "eu-west-1"), ...]``; ``None``: every
        account of the accounts registry in each of its regions (and the rows of
        account-regions no longer in the registry are removed).
    :param requested_by: who asked (a username, ``scheduler``, ``cli:<user>``); it names
        the AWS role sessions.
    :raises InvalidInput: a bad or empty ``account_regions``.
    """
    from pcm_ops.jobs import enqueue_async

    pairs: list[list[str]] | None = None
    if account_regions is not None:
        cleaned = clean_account_regions(account_regions)
        if not cleaned:
            raise InvalidInput(
                [("account_regions", "name at least one, or leave it out to sync everything")]
            )
        pairs = [list(pair) for pair in cleaned]
    return await enqueue_async(SYNC_WORKFLOW, pairs, requested_by, queue=INVENTORY_QUEUE)


async def request_sync(
    session: AsyncSession,
    actor: Actor,
    *,
    account_regions: list[tuple[str, str]] | None = None,
) -> str:
    """Queue a sync that someone asked for (API, page) and audit it in ``session``
    (``aws-script-runner.inventory.sync``); return its job id. Raises as
    :func:`enqueue_sync`."""
    job_id = await enqueue_sync(account_regions=account_regions, requested_by=actor.name)
    chosen = [f"{a}:{r}" for a, r in account_regions] if account_regions else "all"
    await audit.record_by(
        session,
        actor,
        INVENTORY_SYNC_ACTION,
        object_type="inventory",
        object_id=job_id,
        details={"account_regions": chosen},
    )
    return job_id
