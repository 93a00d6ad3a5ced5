"""``/executions``: preview, start, follow, cancel, rerun and export script executions.

Reading needs ``aws-script-runner:read``; previewing, starting, cancelling, rerunning and
cloning need ``aws-script-runner:execute``. Every start, cancel and refusal by a
pre-execution check is written to the audit log.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from pcm_aws_common.patterns import ACCOUNT_ID_PATTERN
from pcm_aws_script_runner.api.errors import RESPONSES
from pcm_aws_script_runner.dependencies import Config, Registry
from pcm_aws_script_runner.domain import (
    FINISHED,
    BatchStatus,
    ExecutionStatus,
    InstanceStatus,
    RerunKind,
)
from pcm_aws_script_runner.fleet_models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_aws_script_runner.ids import EXECUTE, READ, execution_stream
from pcm_aws_script_runner.services import executions
from pcm_aws_script_runner.services.errors import ScriptRunnerError
from pcm_aws_script_runner.services.executions import ExecutionDraft, ExecutionQuery
from pcm_aws_script_runner.services.scripts import Actor
from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import http_error
from pcm_ops.api.params import Id, Int32, Offset, PathId
from pcm_ops.context import PluginContext
from pcm_ops.security import Principal, require

router = APIRouter()

ExecutionId = Annotated[PathId, Path(description="The execution's id.")]
EXECUTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    404: {"description": "No such execution."},
    409: {
        "description": "A pre-execution check blocked the run, or the execution is in a "
        "state that does not allow this (already finished, still running)."
    },
}


# -------------------------------------------------------------------------------------------
# Schemas
# -------------------------------------------------------------------------------------------


class InstanceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instance_id: str
    account_id: str
    region: str


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A target source's name (`GET /target-sources`).")
    reference: str = Field(description="What the source resolves (a change number...).")


class TargetsIn(BaseModel):
    """Exactly one of the fields."""

    model_config = ConfigDict(extra="forbid")
    instance_ids: list[str] | None = Field(
        default=None, description="Instance ids, looked up in the inventory."
    )
    instances: list[InstanceRef] | None = Field(
        default=None, description="Instances with their account and region."
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description="An inventory filter (the fields of `GET /inventory/instances`): every "
        "instance matching it when the run starts.",
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
    target_spec: dict[str, Any]
    max_concurrency: str
    max_errors: str
    delivery_timeout_seconds: int
    execution_timeout_seconds: int
    output_s3_bucket: str | None
    output_s3_prefix: str | None
    cloudwatch_log_group: str | None
    job_id: str | None
    cancel_requested_by: str | None
    batches: list[BatchOut]
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
    next_offset: int | None


class StartedOut(BaseModel):
    execution: ExecutionOut
    job_id: str


# -------------------------------------------------------------------------------------------
# Conversions
# -------------------------------------------------------------------------------------------


def _summary(execution: AwsSrExecution) -> dict[str, Any]:
    return {name: getattr(execution, name) for name in ExecutionSummary.model_fields}


def _detail(
    request: Request, execution: AwsSrExecution, batches: list[AwsSrExecutionBatch]
) -> ExecutionOut:
    values = {
        name: getattr(execution, name)
        for name in ExecutionOut.model_fields
        if name not in ("batches", "events_url")
    }
    return ExecutionOut(
        **values,
        batches=[
            BatchOut(
                number=b.number,
                account_id=b.account_id,
                region=b.region,
                instances=len(b.instance_ids),
                status=b.status,
                command_id=b.command_id,
                sent_at=b.sent_at,
                error=b.error,
            )
            for b in batches
        ],
        events_url=events_url(request, execution.id or 0),
    )


def events_url(request: Request, execution_id: int) -> str:
    return str(request.url_for("execution_events", execution_id=execution_id).path)


def _target(target: AwsSrExecutionTarget) -> TargetOut:
    return TargetOut(**{name: getattr(target, name) for name in TargetOut.model_fields})


def _actor(principal: Principal, request: Request) -> Actor:
    return Actor.of(principal, request)


# -------------------------------------------------------------------------------------------
# Routes
# -------------------------------------------------------------------------------------------


@router.post(
    "/executions/preview",
    response_model=PreviewOut,
    summary="Preview an execution: its instances per account-region, the skipped ones, checks",
    dependencies=[require(EXECUTE)],
    responses=EXECUTION_RESPONSES,
)
async def preview(
    body: ExecutionIn,
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    try:
        plan = await executions.plan_execution(
            session,
            body.draft(),
            config,
            registry=registry,
            actor=_actor(principal, request),
            contexts=PluginContext.request_factory(request),
        )
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    checks = plan.checks.results if plan.checks is not None else ()
    return PreviewOut(
        script_id=plan.script.id or 0,
        script_name=plan.script.name,
        script_version=plan.version.number,
        script_sha256=plan.version.sha256,
        parameters=plan.shown_values,
        instances=len(plan.runnable),
        skipped=len(plan.skipped),
        account_regions=[AccountRegionOut(**row) for row in plan.account_regions()],
        skipped_instances=[
            SkippedOut(
                instance_id=t.instance_id,
                account_id=t.account_id,
                region=t.region,
                name=t.name,
                reason=t.skip_reason,
            )
            for t in plan.skipped
        ],
        max_concurrency=plan.max_concurrency,
        max_errors=plan.max_errors,
        concurrency=plan.concurrency,
        error_budget=plan.error_budget,
        checks=[CheckOut(plugin=c.plugin, ok=c.ok, reason=c.reason) for c in checks],
        blocked=plan.checks is not None and not plan.checks.passed,
    )


async def _start(
    request: Request,
    session: Any,
    config: Any,
    registry: Any,
    principal: Principal,
    draft: ExecutionDraft,
    *,
    rerun_of: int | None = None,
    rerun_kind: RerunKind | None = None,
) -> StartedOut:
    try:
        execution = await executions.start_execution(
            session,
            draft,
            config,
            _actor(principal, request),
            registry=registry,
            contexts=PluginContext.request_factory(request),
            rerun_of=rerun_of,
            rerun_kind=rerun_kind,
        )
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    job_id = await executions.launch(session, execution)
    batches = await executions.batches_of(session, execution.id or 0)
    return StartedOut(execution=_detail(request, execution, batches), job_id=job_id)


@router.post(
    "/executions",
    response_model=StartedOut,
    status_code=201,
    summary="Start an execution",
    dependencies=[require(EXECUTE)],
    responses=EXECUTION_RESPONSES,
)
async def start(
    body: ExecutionIn,
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    return await _start(request, session, config, registry, principal, body.draft())


def _query(
    script_id: int | None,
    requested_by: str | None,
    status: str | None,
    account_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> ExecutionQuery:
    return ExecutionQuery(
        script_id=script_id,
        requested_by=requested_by,
        status=status,
        account_id=account_id,
        created_after=since,
        created_before=until,
    )


@router.get(
    "/executions",
    response_model=ExecutionPage,
    summary="Execution history, newest first",
    dependencies=[require(READ)],
    responses=EXECUTION_RESPONSES,
)
async def history(
    session: DbSession,
    script_id: Id | None = None,
    requested_by: Annotated[str | None, Query(max_length=200, description="A username.")] = None,
    status: ExecutionStatus | None = None,
    account_id: Annotated[str | None, Query(pattern=ACCOUNT_ID_PATTERN)] = None,
    since: Annotated[datetime | None, Query(description="Started at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Started before (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Any:
    query = _query(script_id, requested_by, status, account_id, since, until)
    rows, total = await executions.list_executions(session, query, limit=limit, offset=offset)
    return ExecutionPage(
        items=[ExecutionSummary(**_summary(row)) for row in rows],
        total=total,
        next_offset=offset + limit if offset + limit < total else None,
    )


EXPORT_COLUMNS = [
    "id",
    "script_name",
    "script_version",
    "script_sha256",
    "status",
    "status_reason",
    "target_count",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
    "comment",
    "counts",
    "account_regions",
]


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ would be a formula in a spreadsheet.
        writer.writerow(
            {
                key: ("'" + str(v) if isinstance(v, str) and v[:1] in "=+-@" else v)
                for key, v in ((k, _cell(row.get(k))) for k in columns)
            }
        )
    return buffer.getvalue()


@router.get(
    "/executions/export",
    summary="Export the execution history (same filters as the list) as CSV or JSON",
    dependencies=[require(READ)],
    responses={
        **EXECUTION_RESPONSES,
        200: {"content": {"text/csv": {}, "application/json": {}}, "description": "The rows."},
    },
)
async def export_history(
    session: DbSession,
    format: Literal["csv", "json"] = "csv",
    script_id: Id | None = None,
    requested_by: Annotated[str | None, Query(max_length=200)] = None,
    status: ExecutionStatus | None = None,
    account_id: Annotated[str | None, Query(pattern=ACCOUNT_ID_PATTERN)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    query = _query(script_id, requested_by, status, account_id, since, until)
    rows, _ = await executions.list_executions(session, query, limit=limit)
    data = [ExecutionSummary(**_summary(row)).model_dump(mode="json") for row in rows]
    if format == "json":
        return Response(
            json.dumps(data, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="executions.json"'},
        )
    return Response(
        _csv(EXPORT_COLUMNS, data),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="executions.csv"'},
    )


@router.get(
    "/executions/{execution_id}",
    response_model=ExecutionOut,
    summary="One execution: options, status, counts and batches",
    dependencies=[require(READ)],
    responses=EXECUTION_RESPONSES,
)
async def get_one(execution_id: ExecutionId, request: Request, session: DbSession) -> Any:
    try:
        execution = await executions.get_execution(session, execution_id)
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    return _detail(request, execution, await executions.batches_of(session, execution_id))


@router.get(
    "/executions/{execution_id}/targets",
    response_model=TargetPage,
    summary="Per-instance results: status, exit code, output, times",
    dependencies=[require(READ)],
    responses=EXECUTION_RESPONSES,
)
async def targets(
    execution_id: ExecutionId,
    session: DbSession,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Offset = 0,
) -> Any:
    try:
        await executions.get_execution(session, execution_id)
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    rows = await executions.targets_of(
        session, execution_id, status=status, limit=limit + 1, offset=offset
    )
    return TargetPage(
        items=[_target(row) for row in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None,
    )


@router.get(
    "/executions/{execution_id}/export",
    summary="Export one execution's per-instance results as CSV or JSON",
    dependencies=[require(READ)],
    responses={
        **EXECUTION_RESPONSES,
        200: {"content": {"text/csv": {}, "application/json": {}}, "description": "The rows."},
    },
)
async def export_results(
    execution_id: ExecutionId, session: DbSession, format: Literal["csv", "json"] = "csv"
) -> Response:
    try:
        await executions.get_execution(session, execution_id)
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    data = [
        _target(row).model_dump(mode="json")
        for row in await executions.targets_of(session, execution_id)
    ]
    name = f"execution-{execution_id}"
    if format == "json":
        return Response(
            json.dumps(data, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    return Response(
        _csv(list(TargetOut.model_fields), data),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/executions/{execution_id}/events",
    response_class=StreamingResponse,
    name="execution_events",
    summary="Live per-instance results as Server-Sent Events (Last-Event-ID resumes)",
    dependencies=[require(READ)],
    responses={
        **EXECUTION_RESPONSES,
        200: {"content": {"text/event-stream": {}}, "description": "The event stream."},
    },
)
async def execution_events(
    execution_id: ExecutionId,
    request: Request,
    session: DbSession,
    after: Annotated[Int32 | None, Query(ge=0, description="Send events after this id.")] = None,
) -> Any:
    from pcm_ops.jobs import event_stream_response

    try:
        await executions.get_execution(session, execution_id)
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    database = request.app.state.database

    async def finished() -> dict[str, Any] | None:
        async with database.session() as fresh:
            row = await fresh.get(AwsSrExecution, execution_id)
        if row is not None and row.status in FINISHED:
            return {"state": row.status, "counts": row.counts}
        return None

    return event_stream_response(
        request, execution_stream(execution_id), after=after, is_finished=finished
    )


@router.post(
    "/executions/{execution_id}/cancel",
    response_model=ExecutionSummary,
    status_code=202,
    summary="Cancel: nothing more is sent, and CancelCommand goes to every running batch",
    dependencies=[require(EXECUTE)],
    responses=EXECUTION_RESPONSES,
)
async def cancel(
    execution_id: ExecutionId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    try:
        execution = await executions.request_cancel(
            session, execution_id, _actor(principal, request)
        )
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    return ExecutionSummary(**_summary(execution))


@router.post(
    "/executions/{execution_id}/rerun",
    response_model=StartedOut,
    status_code=201,
    summary="Run the same script version again on the instances that failed",
    dependencies=[require(EXECUTE)],
    responses=EXECUTION_RESPONSES,
)
async def rerun(
    execution_id: ExecutionId,
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    try:
        draft = await executions.rerun_draft(session, execution_id)
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    return await _start(
        request,
        session,
        config,
        registry,
        principal,
        draft,
        rerun_of=execution_id,
        rerun_kind=RerunKind.FAILED,
    )


@router.post(
    "/executions/{execution_id}/clone",
    response_model=StartedOut,
    status_code=201,
    summary="Start a copy: same version, parameters, targets (a filter is resolved again)",
    dependencies=[require(EXECUTE)],
    responses=EXECUTION_RESPONSES,
)
async def clone(
    execution_id: ExecutionId,
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    try:
        draft = await executions.clone_draft(session, execution_id)
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
    return await _start(
        request,
        session,
        config,
        registry,
        principal,
        draft,
        rerun_of=execution_id,
        rerun_kind=RerunKind.CLONE,
    )
