"""What the executions API (``/executions``) accepts and returns, and the conversions from
table rows. Statuses and kinds are the :mod:`pcm_aws_script_runner.domain` enums."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from pcm_aws_script_runner.domain import BatchStatus, ExecutionStatus, InstanceStatus, RerunKind
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_aws_script_runner.services.executions import ExecutionDraft
from pcm_aws_script_runner.services.executions.planning import shown_target_spec
from pcm_aws_script_runner.services.inventory.filters import (
    PING_STATUSES,
    PLATFORMS,
    STATES,
    AccountId,
    PingStatusName,
    PlatformName,
    Region,
    State,
    TagFilter,
    split_tag,
)
from pcm_ops.api.params import Id


class InstanceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instance_id: str
    account_id: str
    region: str


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A target source's name (`GET /target-sources`).")
    reference: str = Field(description="What the source resolves (a change number...).")


def _tag_of_text(value: Any) -> Any:
    return split_tag(value) if isinstance(value, str) else value


#: ``key=value``, or ``key`` for any value, as ``GET /inventory/instances?tag=`` takes it;
#: ``{"key": ..., "value": ...}`` as saved filters store it.
TagIn = Annotated[
    TagFilter,
    BeforeValidator(_tag_of_text),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "examples": ["Team=web", "Team"]},
                {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "value": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                    "required": ["key"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]


def _also(name: str, earlier: str) -> Any:
    """``name``, the inventory's query parameter; ``earlier``, the name this body took first
    (still accepted, and what saved filters store)."""
    return AliasChoices(name, earlier)


class TargetFilterIn(BaseModel):
    """An inventory filter, with the names and values of `GET /inventory/instances`'s query
    parameters. Each list is "any of these" and an empty one does not filter; the fields
    together are "all of these" (every tag listed must match)."""

    model_config = ConfigDict(extra="forbid")

    account_id: list[AccountId] = Field(
        default_factory=list,
        max_length=1000,
        validation_alias=_also("account_id", "account_ids"),
        description="12-digit account ids.",
    )
    region: list[Region] = Field(
        default_factory=list,
        max_length=100,
        validation_alias=_also("region", "regions"),
        description="Region names.",
    )
    state: list[State] = Field(
        default_factory=list,
        max_length=len(STATES),
        validation_alias=_also("state", "states"),
        description="EC2 states: " + ", ".join(STATES) + ".",
    )
    platform: list[PlatformName] = Field(
        default_factory=list,
        max_length=len(PLATFORMS),
        validation_alias=_also("platform", "platforms"),
        description=", ".join(PLATFORMS) + ".",
    )
    ping_status: list[PingStatusName] = Field(
        default_factory=list,
        max_length=len(PING_STATUSES),
        validation_alias=_also("ping_status", "ping_statuses"),
        description="SSM ping statuses: " + ", ".join(PING_STATUSES) + ".",
    )
    tag: list[TagIn] = Field(
        default_factory=list,
        max_length=20,
        validation_alias=_also("tag", "tags"),
        description="Tags the instance must all carry: `key=value`, or `key` for any value "
        '(`{"key": ..., "value": ...}` objects are accepted too).',
    )
    q: str = Field(
        default="",
        max_length=200,
        validation_alias=_also("q", "search"),
        description="Text in the name or instance id.",
    )

    def inventory_filter(self) -> dict[str, Any]:
        """The filter as the inventory service takes it (and saved filters store it)."""
        tags = [t.model_dump() for t in self.tag]
        return {
            "account_ids": self.account_id,
            "regions": self.region,
            "states": self.state,
            "platforms": self.platform,
            "ping_statuses": self.ping_status,
            "tags": tags,
            "search": self.q,
        }


class TargetsIn(BaseModel):
    """Exactly one of the fields."""

    model_config = ConfigDict(extra="forbid")
    instance_ids: list[str] | None = Field(
        default=None, description="Instance ids, looked up in the inventory."
    )
    instances: list[InstanceRef] | None = Field(
        default=None, description="Instances with their account and region."
    )
    filter: TargetFilterIn | None = Field(
        default=None,
        description="An inventory filter, with the query parameters of "
        "`GET /inventory/instances`: every instance matching it when the run starts.",
    )
    saved_filter_id: Id | None = Field(default=None, description="A saved inventory filter.")
    source: SourceRef | None = Field(default=None, description="Another plugin's target source.")


class ExecutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    script_id: Id = Field(description="The script to run.")
    script_version: Id | None = Field(
        default=None, description="The version to run; default: the current one."
    )
    parameters: dict[str, Any] = Field(default_factory=dict)
    targets: TargetsIn
    max_concurrency: str | int | None = Field(
        default=None,
        description="Instances running at once across the whole execution: a number, or a "
        'percentage of the targets (`"10%"`). Default: the `default_max_concurrency` setting.',
    )
    max_errors: str | int | None = Field(
        default=None,
        description="Failed instances tolerated before no further batch is sent: a number or "
        "a percentage. Default: the `default_max_errors` setting.",
    )
    delivery_timeout_seconds: int | None = Field(
        default=None, description="30 to 2,592,000; default 600."
    )
    execution_timeout_seconds: int | None = Field(
        default=None, description="1 to 172,800; default 3,600."
    )
    output_s3_bucket: str | None = None
    output_s3_prefix: str | None = None
    cloudwatch_log_group: str | None = None
    comment: str = ""
    change_reference: str | None = None

    def draft(self) -> ExecutionDraft:
        targets = self.targets.model_dump(exclude_none=True, mode="json")
        if self.targets.filter is not None:
            targets["filter"] = self.targets.filter.inventory_filter()
        return ExecutionDraft(
            script_id=self.script_id,
            script_version=self.script_version,
            parameters=self.parameters,
            targets=targets,
            max_concurrency=self.max_concurrency,
            max_errors=self.max_errors,
            delivery_timeout_seconds=self.delivery_timeout_seconds,
            execution_timeout_seconds=self.execution_timeout_seconds,
            output_s3_bucket=self.output_s3_bucket,
            output_s3_prefix=self.output_s3_prefix,
            cloudwatch_log_group=self.cloudwatch_log_group,
            comment=self.comment,
            change_reference=self.change_reference,
        )


class CheckOut(BaseModel):
    plugin: str
    ok: bool
    reason: str


class AccountRegionOut(BaseModel):
    account_id: str
    region: str
    instances: int = Field(description="Instances the command will be sent to.")
    skipped: int = Field(description="Instances that are not SSM-online and will be skipped.")
    send_commands: int = Field(description="SendCommand calls (at most 50 instances each).")


class SkippedOut(BaseModel):
    instance_id: str
    account_id: str
    region: str
    name: str
    reason: str


class UnresolvedOut(BaseModel):
    """Something a target source's reference names that is not a target (a change's CI
    that maps to no instance), with why."""

    label: str
    reason: str


class PreviewOut(BaseModel):
    script_id: int
    script_name: str
    script_version: int
    script_sha256: str
    parameters: dict[str, Any] = Field(description="Secret values are masked.")
    instances: int
    skipped: int
    account_regions: list[AccountRegionOut]
    skipped_instances: list[SkippedOut]
    unresolved: list[UnresolvedOut] = Field(
        default_factory=list,
        description="What a target source's reference names that is not an instance the run "
        "can use (not counted in `skipped`), each with its reason.",
    )
    max_concurrency: str
    max_errors: str
    concurrency: int = Field(description="Max concurrency as a number of instances.")
    error_budget: int = Field(description="Max errors as a number of instances.")
    checks: list[CheckOut]
    blocked: bool = Field(description="True when a pre-execution check would refuse it.")


class ExecutionSummary(BaseModel):
    id: int
    script_id: int
    script_name: str
    script_version: int
    script_sha256: str
    status: ExecutionStatus
    status_reason: str
    counts: dict[str, int]
    target_count: int
    account_regions: list[str]
    requested_by: str
    comment: str
    change_reference: str | None
    rerun_of: int | None
    rerun_kind: RerunKind | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BatchOut(BaseModel):
    number: int
    account_id: str
    region: str
    instances: int
    status: BatchStatus
    command_id: str | None
    sent_at: datetime | None
    error: str


class ExecutionOut(ExecutionSummary):
    language: str
    document_name: str
    parameters: dict[str, Any] = Field(description="Secret values are masked.")
    target_spec: dict[str, Any] = Field(
        description="How the targets were chosen, as given; a list of more than 20 "
        "instances is cut to its first 20, with its length as `<name>_count` "
        "(`instance_ids_count`)."
    )
    max_concurrency: str
    max_errors: str
    delivery_timeout_seconds: int
    execution_timeout_seconds: int
    output_s3_bucket: str | None
    output_s3_prefix: str | None
    cloudwatch_log_group: str | None
    job_id: str | None
    cancel_requested_by: str | None
    cancel_requested_at: datetime | None = None
    batch_counts: dict[str, int] = Field(
        description="How many SendCommand batches are in each status. The batches "
        "themselves are paged at `batches_url`, the instances at `targets_url`: this "
        "detail stays the same size however many instances the execution has."
    )
    batches_url: str
    targets_url: str
    events_url: str


class TargetOut(BaseModel):
    instance_id: str
    account_id: str
    region: str
    name: str
    batch_number: int | None
    status: InstanceStatus
    status_details: str
    skip_reason: str
    exit_code: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    output_url: str | None = Field(description="Where the whole output is, when truncated.")
    started_at: datetime | None
    ended_at: datetime | None


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary]
    total: int
    next_offset: int | None


class TargetPage(BaseModel):
    items: list[TargetOut]
    next_after: str | None = Field(
        description="Give it as `after` for the next page; `null` on the last page."
    )
    next_offset: int | None = Field(
        description="Deprecated (`offset` paging): prefer `next_after`."
    )


class BatchPage(BaseModel):
    items: list[BatchOut]
    next_after: int | None = Field(
        description="Give it as `after` for the next page; `null` on the last page."
    )


class RerunIn(BaseModel):
    """What ``POST /executions/{id}/rerun`` takes; the body is optional."""

    model_config = ConfigDict(extra="forbid")
    kind: RerunKind = Field(
        default=RerunKind.FAILED,
        description="`failed`: only the instances that failed, timed out, were cancelled or "
        "never reached; `clone`: every instance again (as `POST /executions/{id}/clone`).",
    )


class StartedOut(BaseModel):
    execution: ExecutionOut
    job_id: str


def execution_summary(execution: AwsSrExecution) -> dict[str, Any]:
    return {name: getattr(execution, name) for name in ExecutionSummary.model_fields}


def execution_out(
    execution: AwsSrExecution, batch_counts: dict[str, int], urls: dict[str, str]
) -> ExecutionOut:
    """The detail of ``execution``; ``urls``: its ``batches_url``, ``targets_url`` and
    ``events_url``."""
    values = {
        name: getattr(execution, name)
        for name in ExecutionOut.model_fields
        if name != "batch_counts" and not name.endswith("_url")
    }
    values["target_spec"] = shown_target_spec(execution.target_spec)
    return ExecutionOut(**values, batch_counts=batch_counts, **urls)


def batch_out(batch: AwsSrExecutionBatch) -> BatchOut:
    return BatchOut(
        number=batch.number,
        account_id=batch.account_id,
        region=batch.region,
        instances=len(batch.instance_ids),
        status=batch.status,
        command_id=batch.command_id,
        sent_at=batch.sent_at,
        error=batch.error,
    )


def target_out(target: AwsSrExecutionTarget) -> TargetOut:
    return TargetOut(**{name: getattr(target, name) for name in TargetOut.model_fields})
