"""The tables of executions.

:class:`AwsSrExecution` is one run of one script version on many instances;
:class:`AwsSrExecutionBatch` one ``SendCommand`` (at most 50 instances of one
account-region); :class:`AwsSrExecutionTarget` one instance's result. Their ``status``
columns hold the values of :mod:`pcm_aws_script_runner.domain`'s enums.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow
from pcm_ops.security.secrets import EncryptedString

__all__ = ["AwsSrExecution", "AwsSrExecutionBatch", "AwsSrExecutionTarget"]


class AwsSrExecution(SQLModel, table=True):
    """One run of one script version on many instances."""

    __tablename__ = "aws_sr_execution"
    __table_args__ = (
        Index("ix_aws_sr_execution_status", "status"),
        Index("ix_aws_sr_execution_created_at", "created_at"),
        Index("ix_aws_sr_execution_script_id", "script_id"),
        Index("ix_aws_sr_execution_requested_by", "requested_by"),
    )

    id: int | None = Field(default=None, primary_key=True)
    script_id: int
    script_version: int
    script_name: str = Field(max_length=100)
    script_sha256: str = Field(max_length=64)
    language: str = Field(max_length=20)
    document_name: str = Field(max_length=100)
    #: Parameter values as validated, secret ones replaced by ``********``.
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: The secret parameters' values, as a JSON object, encrypted at rest; never returned.
    secret_parameters: str | None = Field(default=None, sa_type=EncryptedString)
    #: How the targets were chosen: ``{"kind": "instances"|"filter"|"saved_filter"|
    #: "source", ...}``, as the operator gave it.
    target_spec: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    #: ``"10"`` (instances) or ``"10%"`` (of the targets).
    max_concurrency: str = Field(max_length=10)
    max_errors: str = Field(max_length=10)
    delivery_timeout_seconds: int
    execution_timeout_seconds: int
    output_s3_bucket: str | None = Field(default=None, max_length=63)
    output_s3_prefix: str | None = Field(default=None, max_length=500)
    cloudwatch_log_group: str | None = Field(default=None, max_length=512)
    comment: str = Field(default="", max_length=500)
    change_reference: str | None = Field(default=None, max_length=100)
    #: ``queued``, ``running``, ``cancelling``, then ``succeeded``, ``failed`` or
    #: ``cancelled``.
    status: str = Field(default="queued", max_length=20)
    #: Why it ended as it did (``max errors (2) exceeded``), for the operator.
    status_reason: str = Field(default="", max_length=500)
    #: Instances per status (``{"Success": 3, "Failed": 1, ...}``), kept current while it runs.
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    target_count: int = Field(default=0)
    #: The account-regions it reaches, ``["123456789012:us-east-1", ...]``.
    account_regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    requested_by: str = Field(max_length=200)
    requested_by_user_id: int | None = Field(default=None)
    job_id: str | None = Field(default=None, max_length=200)
    #: The execution this one reruns (``rerun_kind`` ``failed``) or clones (``clone``).
    rerun_of: int | None = Field(default=None)
    rerun_kind: str | None = Field(default=None, max_length=20)
    cancel_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_requested_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AwsSrExecutionBatch(SQLModel, table=True):
    """One ``SendCommand``: at most 50 instances of one account-region."""

    __tablename__ = "aws_sr_execution_batch"
    __table_args__ = (UniqueConstraint("execution_id", "number", name="uq_aws_sr_execution_batch"),)

    id: int | None = Field(default=None, primary_key=True)
    execution_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("aws_sr_execution.id", ondelete="CASCADE"), nullable=False
        )
    )
    number: int
    account_id: str = Field(max_length=12)
    region: str = Field(max_length=30)
    instance_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: ``planned``; ``sending`` (the intent is recorded, the call may have been made);
    #: ``sent``; ``finished`` (every invocation ended); ``not_sent`` (max errors, cancel);
    #: ``cancelled`` (CancelCommand accepted).
    status: str = Field(default="planned", max_length=20)
    command_id: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str = Field(default="", max_length=2000)


class AwsSrExecutionTarget(SQLModel, table=True):
    """One instance of an execution, and its result."""

    __tablename__ = "aws_sr_execution_target"
    __table_args__ = (
        UniqueConstraint("execution_id", "instance_id", name="uq_aws_sr_execution_target"),
        Index("ix_aws_sr_execution_target_status", "execution_id", "status"),
        Index("ix_aws_sr_execution_target_account", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    execution_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("aws_sr_execution.id", ondelete="CASCADE"), nullable=False
        )
    )
    instance_id: str = Field(max_length=32)
    account_id: str = Field(max_length=12)
    region: str = Field(max_length=30)
    name: str = Field(default="", max_length=256)
    batch_number: int | None = Field(default=None)
    #: ``Pending`` until sent; ``Skipped`` (not SSM-online when it started); ``NotSent``
    #: (max errors reached, or cancelled first); then SSM's invocation status:
    #: ``InProgress``, ``Delayed``, ``Success``, ``Failed``, ``TimedOut``, ``Cancelled``,
    #: ``Undeliverable``, ``Terminated``.
    status: str = Field(default="Pending", max_length=20)
    status_details: str = Field(default="", max_length=100)
    skip_reason: str = Field(default="", max_length=300)
    exit_code: int | None = Field(default=None)
    stdout: str = Field(default="", sa_column=Column(Text, nullable=False))
    stderr: str = Field(default="", sa_column=Column(Text, nullable=False))
    stdout_truncated: bool = Field(default=False)
    stderr_truncated: bool = Field(default=False)
    #: Where the whole output is (``s3://bucket/prefix/...``, a CloudWatch log group).
    output_url: str | None = Field(default=None, max_length=1000)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
