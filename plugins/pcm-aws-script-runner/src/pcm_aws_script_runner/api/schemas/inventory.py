"""Request and response models of the inventory API (``/inventory/...``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pcm_aws_script_runner.services.inventory import AccountRegionStatus, InventoryFilter

__all__ = [
    "AccountRegionIn",
    "AccountRegionStatusOut",
    "FilterPreviewOut",
    "InstanceOut",
    "InstancePage",
    "InventoryStatusOut",
    "SavedFilterIn",
    "SavedFilterOut",
    "SavedFilterPatch",
    "SyncRequest",
    "SyncStarted",
    "instance_out",
    "saved_filter_out",
    "status_out",
]


class InstanceOut(BaseModel):
    """One instance as the last sync saw it."""

    account_id: str
    region: str
    instance_id: str
    name: str
    state: str = Field(description="EC2's state; empty for a node EC2 does not know.")
    platform: str = Field(description="Linux, Windows or MacOS.")
    platform_details: str
    instance_type: str
    private_ip: str
    tags: dict[str, str]
    ssm_managed: bool
    ping_status: str = Field(description="Online, ConnectionLost, Inactive or NotManaged.")
    agent_version: str
    last_ping_at: datetime | None
    launched_at: datetime | None
    first_seen_at: datetime
    synced_at: datetime


class InstancePage(BaseModel):
    """A page of instances matching a filter."""

    items: list[InstanceOut]
    total: int = Field(description="How many instances match the filter in all.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null: last page.")
    sort: str
    order: str
    filter: InventoryFilter


class AccountRegionStatusOut(BaseModel):
    """The sync state of one account-region."""

    account_id: str
    region: str
    status: str = Field(description="ok, error, running, or never (not synced yet).")
    error: str
    instance_count: int
    job_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    last_success_at: datetime | None


class InventoryStatusOut(BaseModel):
    """How fresh the inventory is, and which account-regions failed to sync."""

    last_synced_at: datetime | None = Field(
        description="When a sync of some account-region last succeeded."
    )
    oldest_success_at: datetime | None = Field(
        description="The least fresh account-region's last success; null when one never succeeded."
    )
    running: bool
    instance_count: int
    schedule: str = Field(description="The scheduled sync's cron expression; empty: off.")
    account_regions: list[AccountRegionStatusOut]
    errors: list[AccountRegionStatusOut]


class AccountRegionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(description="12 digits.", examples=["123456789012"])
    region: str = Field(examples=["eu-west-1"])


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_regions: list[AccountRegionIn] | None = Field(
        default=None,
        max_length=1000,
        description="What to sync; leave it out to sync every account of the registry in "
        "each of its regions.",
    )


class SyncStarted(BaseModel):
    job_id: str
    job_url: str
    events_url: str = Field(description="The job's progress, as Server-Sent Events.")
    account_regions: list[AccountRegionIn] | None


class SavedFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    filter: InventoryFilter = Field(default_factory=InventoryFilter)


class SavedFilterPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    filter: InventoryFilter | None = None


class SavedFilterOut(BaseModel):
    id: int
    name: str
    description: str
    filter: InventoryFilter
    matching: int = Field(description="How many instances match it now.")
    created_by: str
    created_at: datetime
    updated_at: datetime


class FilterPreviewOut(BaseModel):
    """How many instances a filter matches, and the first few."""

    total: int
    items: list[InstanceOut]


def instance_out(row: Any) -> InstanceOut:
    return InstanceOut.model_validate(row, from_attributes=True)


def status_out(status: AccountRegionStatus) -> AccountRegionStatusOut:
    return AccountRegionStatusOut.model_validate(status, from_attributes=True)


def saved_filter_out(row: Any, flt: InventoryFilter, matching: int) -> SavedFilterOut:
    return SavedFilterOut(
        id=row.id,
        name=row.name,
        description=row.description,
        filter=flt,
        matching=matching,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
