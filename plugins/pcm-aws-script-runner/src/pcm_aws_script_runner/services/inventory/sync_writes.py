"""Writing what a sync read from AWS: EC2's and SSM's answers joined per instance, and an
account-region's rows replaced in one transaction.

No AWS calls here (the job, :mod:`pcm_aws_script_runner.jobs.inventory`, makes them): the
join is a pure function of ``DescribeInstances`` and ``DescribeInstanceInformation``
answers, and the writes take records, so that tests, demo data and benchmarks can fill the
inventory the same way a sync does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert
from sqlmodel import col, select

from pcm_aws_script_runner.domain import PingStatus, SyncStatus
from pcm_aws_script_runner.models import AwsSrInstance, AwsSrInstanceTag, AwsSrInventorySync
from pcm_ops.db.types import utcnow

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = [
    "InstanceRecord",
    "SaveResult",
    "forget_account_regions",
    "join_instances",
    "mark_sync_error",
    "mark_sync_started",
    "refresh_statistics",
    "save_account_region",
]

#: Longest error message kept per account-region (the column's size).
MAX_ERROR = 2000


@dataclass
class InstanceRecord:
    """One instance as a sync saw it: EC2's data joined with SSM's."""

    instance_id: str
    name: str = ""
    state: str = ""
    platform: str = ""
    platform_details: str = ""
    instance_type: str = ""
    private_ip: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    ssm_managed: bool = False
    ping_status: str = PingStatus.NOT_MANAGED.value
    agent_version: str = ""
    last_ping_at: datetime | None = None
    launched_at: datetime | None = None

    def columns(self) -> dict[str, Any]:
        """The instance's column values, cut to the columns' sizes."""
        return {
            "instance_id": self.instance_id[:32],
            "name": self.name[:256],
            "state": self.state[:20],
            "platform": self.platform[:20],
            "platform_details": self.platform_details[:100],
            "instance_type": self.instance_type[:30],
            "private_ip": self.private_ip[:45],
            "tags": dict(self.tags),
            "ssm_managed": self.ssm_managed,
            "ping_status": self.ping_status[:20],
            "agent_version": self.agent_version[:30],
            "last_ping_at": self.last_ping_at,
            "launched_at": self.launched_at,
        }


def _ec2_platform(instance: Mapping[str, Any]) -> str:
    if str(instance.get("Platform", "")).lower() == "windows":
        return "Windows"
    if str(instance.get("InstanceType", "")).startswith("mac"):
        return "MacOS"
    return "Linux"


def join_instances(
    ec2_instances: Iterable[Mapping[str, Any]], ssm_instances: Iterable[Mapping[str, Any]]
) -> list[InstanceRecord]:
    """EC2's instances (``Reservations[].Instances[]`` items) joined by instance id with
    SSM's managed nodes (``InstanceInformationList`` items).

    Terminated instances are left out. A managed node EC2 does not know (a hybrid ``mi-``
    node) is kept, with SSM's data only. SSM's platform type wins over EC2's guess.
    """
    managed = {str(item["InstanceId"]): item for item in ssm_instances if item.get("InstanceId")}
    records: dict[str, InstanceRecord] = {}
    for instance in ec2_instances:
        instance_id = str(instance.get("InstanceId", ""))
        state = str((instance.get("State") or {}).get("Name", ""))
        if not instance_id or state == "terminated":
            continue
        tags = {
            str(tag["Key"]): str(tag.get("Value", ""))
            for tag in instance.get("Tags") or ()
            if tag.get("Key")
        }
        records[instance_id] = InstanceRecord(
            instance_id=instance_id,
            name=tags.get("Name", ""),
            state=state,
            platform=_ec2_platform(instance),
            platform_details=str(instance.get("PlatformDetails", "")),
            instance_type=str(instance.get("InstanceType", "")),
            private_ip=str(instance.get("PrivateIpAddress", "") or ""),
            tags=tags,
            launched_at=instance.get("LaunchTime"),
        )
    for instance_id, item in managed.items():
        record = records.get(instance_id)
        if record is None:
            record = records[instance_id] = InstanceRecord(
                instance_id=instance_id,
                name=str(item.get("ComputerName", "") or item.get("Name", "") or ""),
                platform_details=str(item.get("PlatformName", "")),
                private_ip=str(item.get("IPAddress", "") or ""),
            )
        record.ssm_managed = True
        record.ping_status = str(item.get("PingStatus", "") or PingStatus.ONLINE)
        record.agent_version = str(item.get("AgentVersion", "") or "")
        record.last_ping_at = item.get("LastPingDateTime")
        if item.get("PlatformType"):
            record.platform = str(item["PlatformType"])
    return sorted(records.values(), key=lambda record: record.instance_id)


@dataclass(frozen=True)
class SaveResult:
    """What saving an account-region changed."""

    added: int
    updated: int
    removed: int

    @property
    def total(self) -> int:
        return self.added + self.updated


async def _sync_row(session: AsyncSession, account_id: str, region: str) -> AwsSrInventorySync:
    statement = select(AwsSrInventorySync).where(
        AwsSrInventorySync.account_id == account_id, AwsSrInventorySync.region == region
    )
    row = (await session.exec(statement)).first()
    if row is None:
        row = AwsSrInventorySync(account_id=account_id, region=region)
    return row


async def mark_sync_started(
    session: AsyncSession, account_id: str, region: str, *, job_id: str | None
) -> None:
    """Record that a sync of the account-region started (its rows stay as they were)."""
    row = await _sync_row(session, account_id, region)
    row.status, row.job_id, row.started_at, row.finished_at = (
        SyncStatus.RUNNING,
        job_id,
        utcnow(),
        None,
    )
    session.add(row)


async def mark_sync_error(
    session: AsyncSession, account_id: str, region: str, error: str, *, job_id: str | None
) -> None:
    """Record why the account-region's sync failed; its rows stay as the last success left
    them (``last_success_at`` says how old they are)."""
    row = await _sync_row(session, account_id, region)
    row.status, row.error, row.job_id = SyncStatus.ERROR, error[:MAX_ERROR], job_id
    row.finished_at = utcnow()
    session.add(row)


async def save_account_region(
    session: AsyncSession,
    account_id: str,
    region: str,
    records: Iterable[InstanceRecord],
    *,
    job_id: str | None = None,
    synced_at: datetime | None = None,
) -> SaveResult:
    """Make the account-region's rows what ``records`` says: update the instances known,
    add the new ones, delete those no longer seen, replace their tags, and mark the sync
    ``ok``. Everything is in the caller's transaction (commit once for the account-region).
    """
    now = synced_at or utcnow()
    wanted = {record.instance_id[:32]: record for record in records}
    statement = select(AwsSrInstance).where(
        AwsSrInstance.account_id == account_id, AwsSrInstance.region == region
    )
    existing = {row.instance_id: row for row in (await session.exec(statement)).all()}

    gone = [row.id for key, row in existing.items() if key not in wanted and row.id is not None]
    for start in range(0, len(gone), 500):
        chunk = gone[start : start + 500]
        await session.exec(
            delete(AwsSrInstanceTag).where(col(AwsSrInstanceTag.instance_pk).in_(chunk))
        )
        await session.exec(delete(AwsSrInstance).where(col(AwsSrInstance.id).in_(chunk)))

    retagged: list[AwsSrInstance] = []
    added = updated = 0
    for instance_id, record in wanted.items():
        values = record.columns()
        row = existing.get(instance_id)
        if row is None:
            row = AwsSrInstance(account_id=account_id, region=region, first_seen_at=now, **values)
            added += 1
            retagged.append(row)
        else:
            if row.tags != values["tags"]:
                retagged.append(row)
            for name, value in values.items():
                setattr(row, name, value)
            updated += 1
        row.synced_at = now
        session.add(row)
    await session.flush()

    pks = [row.id for row in retagged if row.id is not None]
    for start in range(0, len(pks), 500):
        await session.exec(
            delete(AwsSrInstanceTag).where(
                col(AwsSrInstanceTag.instance_pk).in_(pks[start : start + 500])
            )
        )
    tag_rows = [
        {"instance_pk": row.id, "key": key[:128], "value": value[:256]}
        for row in retagged
        for key, value in row.tags.items()
    ]
    if tag_rows:
        connection = await session.connection()  # the session's transaction
        await connection.execute(insert(AwsSrInstanceTag), tag_rows)

    sync = await _sync_row(session, account_id, region)
    sync.status, sync.error, sync.job_id = SyncStatus.OK, "", job_id
    sync.instance_count = len(wanted)
    sync.finished_at = sync.last_success_at = now
    if sync.started_at is None:
        sync.started_at = now
    session.add(sync)
    await session.flush()
    return SaveResult(added=added, updated=updated, removed=len(gone))


async def forget_account_regions(
    session: AsyncSession, keep: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Delete the rows and sync state of every account-region not in ``keep`` (accounts
    removed from the registry, regions no longer enabled); return those forgotten."""
    kept = set(keep)
    statement = select(AwsSrInventorySync.account_id, AwsSrInventorySync.region)
    known = {(a, r) for a, r in (await session.exec(statement)).all()}
    statement2 = select(AwsSrInstance.account_id, AwsSrInstance.region).distinct()
    known |= {(a, r) for a, r in (await session.exec(statement2)).all()}
    forgotten = sorted(known - kept)
    for account_id, region in forgotten:
        ids = select(AwsSrInstance.id).where(
            AwsSrInstance.account_id == account_id, AwsSrInstance.region == region
        )
        await session.exec(
            delete(AwsSrInstanceTag).where(col(AwsSrInstanceTag.instance_pk).in_(ids))
        )
        await session.exec(
            delete(AwsSrInstance).where(
                col(AwsSrInstance.account_id) == account_id, col(AwsSrInstance.region) == region
            )
        )
        await session.exec(
            delete(AwsSrInventorySync).where(
                col(AwsSrInventorySync.account_id) == account_id,
                col(AwsSrInventorySync.region) == region,
            )
        )
    return forgotten


async def refresh_statistics(session: AsyncSession) -> None:
    """On PostgreSQL, have the planner's statistics of the inventory tables brought up to
    date (``ANALYZE``) after a sync changed them.

    Without them (a freshly filled inventory, before autovacuum's next round) PostgreSQL
    takes the tag filters for rare and plans a page of 50 out of 10,000 instances in
    seconds instead of milliseconds. SQLite plans from its indexes alone.
    """
    from sqlalchemy import text

    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    await session.exec(text("ANALYZE aws_sr_instance, aws_sr_instance_tag"))  # type: ignore[call-overload]
