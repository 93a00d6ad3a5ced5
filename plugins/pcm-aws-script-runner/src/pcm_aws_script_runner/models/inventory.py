"""The tables of the fleet inventory.

:class:`AwsSrInstance` is one managed or EC2 instance as the last sync saw it (EC2's data
joined with SSM's), its tags also in :class:`AwsSrInstanceTag` rows so that a tag filter is
an indexed lookup on every database. :class:`AwsSrInventorySync` keeps, per account-region,
when it was last synced and the error of the last attempt, which the inventory shows rather
than hides. :class:`AwsSrSavedFilter` is a named inventory filter that an execution can
target ("select all matching", resolved when it runs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow

__all__ = ["AwsSrInstance", "AwsSrInstanceTag", "AwsSrInventorySync", "AwsSrSavedFilter"]


class AwsSrInstance(SQLModel, table=True):
    """One instance of an account-region, as the last inventory sync saw it."""

    __tablename__ = "aws_sr_instance"
    __table_args__ = (
        UniqueConstraint("account_id", "region", "instance_id", name="uq_aws_sr_instance"),
        Index("ix_aws_sr_instance_instance_id", "instance_id"),
        Index("ix_aws_sr_instance_name", "name"),
        Index("ix_aws_sr_instance_state", "state"),
        Index("ix_aws_sr_instance_ping_status", "ping_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(max_length=12)
    region: str = Field(max_length=30)
    #: ``i-…`` for EC2, ``mi-…`` for a hybrid managed node (SSM only).
    instance_id: str = Field(max_length=32)
    #: The ``Name`` tag (or SSM's computer name for a hybrid node).
    name: str = Field(default="", max_length=256)
    #: EC2's state (``running``, ``stopped``…); ``""`` for a node EC2 does not know.
    state: str = Field(default="", max_length=20)
    #: ``Linux``, ``Windows`` or ``MacOS``: SSM's platform type, else EC2's platform.
    platform: str = Field(default="", max_length=20)
    #: EC2's platform details (``Linux/UNIX``, ``Windows``…) or SSM's platform name.
    platform_details: str = Field(default="", max_length=100)
    instance_type: str = Field(default="", max_length=30)
    private_ip: str = Field(default="", max_length=45)
    tags: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: Whether SSM knows the instance as a managed node.
    ssm_managed: bool = Field(default=False)
    #: SSM's ping status: ``Online``, ``ConnectionLost``, ``Inactive``; ``NotManaged``
    #: when SSM does not know the instance.
    ping_status: str = Field(default="NotManaged", max_length=20)
    agent_version: str = Field(default="", max_length=30)
    last_ping_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    launched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    synced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AwsSrInstanceTag(SQLModel, table=True):
    """One tag of an instance (also in ``AwsSrInstance.tags``), for indexed tag filters."""

    __tablename__ = "aws_sr_instance_tag"
    __table_args__ = (Index("ix_aws_sr_instance_tag_key_value", "key", "value"),)

    instance_pk: int = Field(
        sa_column=Column(
            Integer, ForeignKey("aws_sr_instance.id", ondelete="CASCADE"), primary_key=True
        )
    )
    key: str = Field(max_length=128, primary_key=True)
    value: str = Field(default="", max_length=256)


class AwsSrInventorySync(SQLModel, table=True):
    """The sync state of one account-region: shown next to the inventory."""

    __tablename__ = "aws_sr_inventory_sync"
    __table_args__ = (UniqueConstraint("account_id", "region", name="uq_aws_sr_inventory_sync"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(max_length=12)
    region: str = Field(max_length=30)
    #: ``ok`` or ``error`` (the outcome of the last attempt), ``running`` during one.
    status: str = Field(default="running", max_length=20)
    #: The last attempt's error, for the operator (no secrets: AWS's code and message).
    error: str = Field(default="", max_length=2000)
    instance_count: int = Field(default=0)
    job_id: str | None = Field(default=None, max_length=200)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: When a sync of this account-region last succeeded: how fresh its rows are.
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AwsSrSavedFilter(SQLModel, table=True):
    """A named inventory filter; an execution may target "every instance matching it"."""

    __tablename__ = "aws_sr_saved_filter"
    __table_args__ = (UniqueConstraint("name_key", name="uq_aws_sr_saved_filter_name_key"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    name_key: str = Field(max_length=100)
    description: str = Field(default="", max_length=1000)
    #: The filter's fields (see ``services.inventory.InventoryFilter``).
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
