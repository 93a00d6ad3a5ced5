"""The plugin's tables. Every name starts with the table prefix ``aws_common_``; the migrations in
``migrations/versions`` create them (``pcm-ops db check`` compares the two)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow
from pcm_ops.security.secrets import EncryptedString


class AwsPartition(SQLModel, table=True):
    """An AWS partition: ``aws`` (Commercial) or ``aws-us-gov`` (GovCloud). Seeded from
    botocore's endpoint data."""

    __tablename__ = "aws_common_partition"

    id: str = Field(primary_key=True, max_length=32)
    #: What the UI and API call it: ``Commercial``, ``GovCloud``.
    name: str = Field(max_length=50)
    #: botocore's name: ``AWS Standard``, ``AWS GovCloud (US)``.
    aws_name: str = Field(max_length=100)
    dns_suffix: str = Field(max_length=100)
    #: Where partition-wide calls (STS, Organizations) go.
    default_region: str = Field(max_length=32)


class AwsRegion(SQLModel, table=True):
    """A region of a partition. Seeded from botocore's endpoint data."""

    __tablename__ = "aws_common_region"

    id: str = Field(primary_key=True, max_length=32)
    partition_id: str = Field(foreign_key="aws_common_partition.id", index=True, max_length=32)
    description: str = Field(default="", max_length=100)


class AwsCredentialSource(SQLModel, table=True):
    """Where credentials come from: the host's default chain, a named profile, or access
    keys someone entered (encrypted at rest, never returned by the API).

    ``owner_id`` is the PCM-Ops user the source belongs to; ``None`` means shared (only
    administrators create those, and only shared sources can reach registry accounts).
    """

    __tablename__ = "aws_common_credential_source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    partition_id: str = Field(foreign_key="aws_common_partition.id", index=True, max_length=32)
    #: ``default`` (the host's default credential chain), ``profile`` or ``keys``.
    kind: str = Field(max_length=20)
    profile_name: str | None = Field(default=None, max_length=100)
    access_key_id: str | None = Field(default=None, sa_type=EncryptedString)
    secret_access_key: str | None = Field(default=None, sa_type=EncryptedString)
    session_token: str | None = Field(default=None, sa_type=EncryptedString)
    owner_id: int | None = Field(
        default=None, foreign_key="pcm_user.id", index=True, ondelete="CASCADE"
    )
    #: ``unknown`` (never checked, or AWS could not be reached), ``valid``, ``expired`` or
    #: ``invalid``.
    status: str = Field(default="unknown", max_length=20)
    status_detail: str = Field(default="", max_length=1000)
    identity_account: str | None = Field(default=None, max_length=12)
    identity_arn: str | None = Field(default=None, max_length=2048)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def shared(self) -> bool:
        return self.owner_id is None


class AwsAccount(SQLModel, table=True):
    """An AWS account in the registry, and how to reach it: the credential source
    directly, or an AssumeRole into ``role_arn``."""

    __tablename__ = "aws_common_account"
    __table_args__ = (UniqueConstraint("account_id", name="uq_aws_common_account_account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(max_length=12)
    name: str = Field(max_length=100)
    partition_id: str = Field(foreign_key="aws_common_partition.id", index=True, max_length=32)
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tags: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    credential_source_id: int = Field(foreign_key="aws_common_credential_source.id", index=True)
    role_arn: str | None = Field(default=None, max_length=2048)
    external_id: str | None = Field(default=None, max_length=1224)
    session_duration_seconds: int = Field(default=3600)
    description: str = Field(default="", max_length=500)
    #: ``manual`` or ``organizations`` (imported).
    origin: str = Field(default="manual", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


MODELS: list[type[SQLModel]] = [AwsPartition, AwsRegion, AwsCredentialSource, AwsAccount]
