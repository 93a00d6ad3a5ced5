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

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from pcm_aws_common.patterns import ACCOUNT_ID_PATTERN
from pcm_aws_script_runner.api.errors import RESPONSES
from pcm_aws_script_runner.api.schemas.executions import (
    AccountRegionOut,
    BatchPage,
    CheckOut,
    ExecutionIn,
    ExecutionOut,
    ExecutionPage,
    ExecutionSummary,
    PreviewOut,
    RerunIn,
    SkippedOut,
    StartedOut,
    TargetOut,
    TargetPage,
    UnresolvedOut,
    batch_out,
    execution_out,
    execution_summary,
    target_out,
)
from pcm_aws_script_runner.dependencies import Config, Registry
from pcm_aws_script_runner.domain import (
    FINISHED,
    ExecutionStatus,
    RerunKind,
)
from pcm_aws_script_runner.ids import EXECUTE, READ, execution_stream
from pcm_aws_script_runner.models import AwsSrExecution
from pcm_aws_script_runner.services import executions
from pcm_aws_script_runner.services.errors import Blocked
from pcm_aws_script_runner.services.executions import ExecutionDraft, ExecutionQuery
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import Id, Int32, Offset, PathId
from pcm_ops.audit import Actor
from pcm_ops.context import PluginContext
from pcm_ops.security import Principal, require
from pcm_ops.web.errors import handle_service_error

ExecutionId = Annotated[PathId, Path(description="The execution's id.")]
EXECUTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    404: {"description": "No such execution."},
    409: {
        "description": "A pre-execution check blocked the run, or the execution is in a "
        "state that does not allow this (already finished, still running)."
    },
}

# No tags: core tags every route of a plugin with its display name.
router = APIRouter(prefix="/executions", responses=EXECUTION_RESPONSES)


async def _detail(request: Request, session: Any, execution: AwsSrExecution) -> ExecutionOut:
    """The execution's detail: the same size at 10 or 50,000 instances (batch counts; the
    batches and instances are paged through their own routes)."""
    execution_id = execution.id or 0
    urls = {
        name: _execution_path(request, route, execution_id)
        for name, route in (
            ("batches_url", "execution_batches"),
            ("targets_url", "execution_targets"),
            ("events_url", "execution_events"),
        )
    }
    counts = await executions.batch_counts(session, execution_id)
    return execution_out(execution, counts, urls)


def events_url(request: Request, execution_id: int) -> str:
    return _execution_path(request, "execution_events", execution_id)


#: An execution id no execution has: where it lands in a route's path is where every
#: execution's id goes.
_ANY_ID = 987_654_321_987


def _execution_path(request: Request, route: str, execution_id: int) -> str:
    """``request.url_for(route, execution_id=...).path``, without looking the route up in
    the app's route table each time (a page that watches an execution reads its detail
    every second or so: three look-ups through every route of every plugin each time).
    The path's pattern is found once per app, mount point and route."""
    state = request.app.state
    patterns: dict[tuple[str, str], tuple[str, str]] | None = getattr(
        state, "aws_sr_execution_paths", None
    )
    if patterns is None:
        patterns = state.aws_sr_execution_paths = {}
    key = (request.scope.get("root_path", ""), route)
    pattern = patterns.get(key)
    if pattern is None:
        path = str(request.url_for(route, execution_id=_ANY_ID).path)
        before, _, after = path.partition(str(_ANY_ID))
        pattern = patterns[key] = (before, after)
    return f"{pattern[0]}{execution_id}{pattern[1]}"


def _actor(principal: Principal, request: Request) -> Actor:
    return Actor.from_principal(principal, request)


# -------------------------------------------------------------------------------------------
# Routes
# -------------------------------------------------------------------------------------------


@router.post(
    "/preview",
    response_model=PreviewOut,
    summary="Preview an execution: its instances per account-region, the skipped ones, checks",
    dependencies=[require(EXECUTE)],
)
async def preview(
    body: ExecutionIn,
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    plan = await executions.plan_execution(
        session,
        body.draft(),
        config,
        registry=registry,
        actor=_actor(principal, request),
        contexts=PluginContext.request_factory(request),
    )
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
        unresolved=[UnresolvedOut(**item) for item in plan.target_spec.get("unresolved", ())],
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
) -> StartedOut | Response:
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
    except Blocked as refused:
        # Answered, not raised: the request's transaction then commits the refusal's audit
        # record, which raising through it would roll back. The answer is core's 409.
        return await handle_service_error(request, refused)
    job_id = await executions.launch(session, execution)
    return StartedOut(execution=await _detail(request, session, execution), job_id=job_id)


@router.post(
    "",
    response_model=StartedOut,
    status_code=201,
    summary="Start an execution",
    dependencies=[require(EXECUTE)],
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
    "",
    response_model=ExecutionPage,
    summary="Execution history, newest first",
    dependencies=[require(READ)],
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
        items=[ExecutionSummary(**execution_summary(row)) for row in rows],
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


#: A cell starting with one of these would be read as a formula by a spreadsheet (OWASP's
#: CSV injection list); a leading ``'`` makes it text. Every other cell, empty ones
#: included, is written as it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _spreadsheet_safe(_cell(row.get(key))) for key in columns})
    return buffer.getvalue()


@router.get(
    "/export",
    summary="Export the execution history (same filters as the list) as CSV or JSON",
    dependencies=[require(READ)],
    responses={
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
    data = [ExecutionSummary(**execution_summary(row)).model_dump(mode="json") for row in rows]
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
    "/{execution_id}",
    response_model=ExecutionOut,
    summary="One execution: options, status, counts (its batches and instances are paged)",
    dependencies=[require(READ)],
)
async def get_one(execution_id: ExecutionId, request: Request, session: DbSession) -> Any:
    execution = await executions.get_execution(session, execution_id)
    return await _detail(request, session, execution)


@router.get(
    "/{execution_id}/batches",
    response_model=BatchPage,
    name="execution_batches",
    summary="The SendCommand batches, in number order (keyset paging: `after`)",
    dependencies=[require(READ)],
)
async def batches(
    execution_id: ExecutionId,
    session: DbSession,
    after: Annotated[
        Int32 | None, Query(ge=0, description="The `next_after` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    await executions.get_execution(session, execution_id)
    rows = await executions.batches_of(session, execution_id, after=after, limit=limit + 1)
    page = rows[:limit]
    return BatchPage(
        items=[batch_out(row) for row in page],
        next_after=page[-1].number if len(rows) > limit else None,
    )


@router.get(
    "/{execution_id}/targets",
    response_model=TargetPage,
    name="execution_targets",
    summary="Per-instance results: status, exit code, output, times (keyset paging: `after`)",
    dependencies=[require(READ)],
)
async def targets(
    execution_id: ExecutionId,
    session: DbSession,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: Annotated[
        str | None,
        Query(max_length=80, description="The `next_after` of the previous page."),
    ] = None,
    offset: Annotated[
        Offset, Query(description="Deprecated: the database counts through every row before.")
    ] = 0,
) -> Any:
    key = executions.parse_target_key(after)
    await executions.get_execution(session, execution_id)
    rows = await executions.targets_of(
        session, execution_id, status=status, limit=limit + 1, offset=offset, after=key
    )
    page = rows[:limit]
    more = len(rows) > limit
    return TargetPage(
        items=[target_out(row) for row in page],
        next_after=executions.target_key_text(page[-1]) if more else None,
        next_offset=offset + limit if more and key is None else None,
    )


@router.get(
    "/{execution_id}/export",
    summary="Export one execution's per-instance results as CSV or JSON",
    dependencies=[require(READ)],
    responses={
        200: {"content": {"text/csv": {}, "application/json": {}}, "description": "The rows."},
    },
)
async def export_results(
    execution_id: ExecutionId, session: DbSession, format: Literal["csv", "json"] = "csv"
) -> Response:
    await executions.get_execution(session, execution_id)
    data = [
        target_out(row).model_dump(mode="json")
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
    "/{execution_id}/events",
    response_class=StreamingResponse,
    name="execution_events",
    summary="Live per-instance results as Server-Sent Events (Last-Event-ID resumes)",
    dependencies=[require(READ)],
    responses={
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

    await executions.get_execution(session, execution_id)
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
    "/{execution_id}/cancel",
    response_model=ExecutionSummary,
    status_code=202,
    summary="Cancel: nothing more is sent, and CancelCommand goes to every running batch",
    dependencies=[require(EXECUTE)],
)
async def cancel(
    execution_id: ExecutionId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    execution = await executions.request_cancel(session, execution_id, _actor(principal, request))
    return ExecutionSummary(**execution_summary(execution))


@router.post(
    "/{execution_id}/rerun",
    response_model=StartedOut,
    status_code=201,
    summary="Run the same script version again on the instances that failed (or on all)",
    dependencies=[require(EXECUTE)],
)
async def rerun(
    execution_id: ExecutionId,
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
    body: Annotated[RerunIn | None, Body()] = None,
) -> Any:
    kind = (body or RerunIn()).kind
    make_draft = executions.clone_draft if kind == RerunKind.CLONE else executions.rerun_draft
    draft = await make_draft(session, execution_id)
    return await _start(
        request,
        session,
        config,
        registry,
        principal,
        draft,
        rerun_of=execution_id,
        rerun_kind=kind,
    )


@router.post(
    "/{execution_id}/clone",
    response_model=StartedOut,
    status_code=201,
    summary="Start a copy: same version, parameters, targets (a filter is resolved again)",
    dependencies=[require(EXECUTE)],
)
async def clone(
    execution_id: ExecutionId,
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    draft = await executions.clone_draft(session, execution_id)
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
