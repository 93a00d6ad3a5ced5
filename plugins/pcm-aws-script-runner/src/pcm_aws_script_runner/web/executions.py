"""The executions pages: the history (``/executions``, filtered by GET parameters, with
export links) and one execution (``/executions/{id}``, updated live from its event stream
while it runs, with Cancel, Rerun failed and Clone). The run form is :mod:`.run_form`.

Pages go through the same services as the JSON API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pcm_aws_common.patterns import is_account_id
from pcm_aws_script_runner.dependencies import Config, Registry
from pcm_aws_script_runner.domain import (
    DETAILS_SPELLINGS,
    ERROR_STATUSES,
    FINISHED,
    INSTANCE_STATUS_ORDER,
    RERUN_STATUSES,
    ExecutionStatus,
    RerunKind,
    details_beside,
)
from pcm_aws_script_runner.ids import API_PREFIX, EXECUTE, READ
from pcm_aws_script_runner.services import executions, scripts
from pcm_aws_script_runner.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ScriptRunnerError,
)
from pcm_aws_script_runner.services.executions import (
    ExecutionQuery,
)
from pcm_aws_script_runner.web.common import BASE, form_text, page
from pcm_aws_script_runner.web.run_form import describe_targets
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import Offset, PathId, parse_id
from pcm_ops.audit import Actor
from pcm_ops.context import PluginContext
from pcm_ops.security import Principal, require
from pcm_ops.web import flash

router = APIRouter()

API = API_PREFIX

#: Executions per page of the history.
HISTORY_PAGE = 50
#: Instances per page of an execution.
TARGETS_PAGE = 500
#: Batches per page of an execution (1,000 at 50,000 instances).
BATCHES_PAGE = 200
#: Execution statuses, in the order the history's filter offers them.
EXECUTION_STATUSES = tuple(ExecutionStatus)
#: Instance statuses, in the order the counters show them.
INSTANCE_STATUSES = INSTANCE_STATUS_ORDER


# -------------------------------------------------------------------------------------------
# History
# -------------------------------------------------------------------------------------------


@dataclass
class HistoryFilters:
    """The history's filters as typed, and the problems found with them."""

    script_id: str = ""
    user: str = ""
    status: str = ""
    account_id: str = ""
    since: str = ""
    until: str = ""
    offset: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, data: Mapping[str, Any], offset: int = 0) -> HistoryFilters:
        filters = cls(
            script_id=form_text(data, "script_id"),
            user=form_text(data, "user")[:200],
            status=form_text(data, "status"),
            account_id=form_text(data, "account_id"),
            since=form_text(data, "since"),
            until=form_text(data, "until"),
            offset=offset,
        )
        filters.check()
        return filters

    def check(self) -> None:
        if self.script_id and parse_id(self.script_id) is None:
            self.problems.append(("script_id", "choose a script from the list"))
        if self.status and self.status not in EXECUTION_STATUSES:
            self.problems.append(("status", f"use one of: {', '.join(EXECUTION_STATUSES)}"))
        if self.account_id and not is_account_id(self.account_id):
            self.problems.append(("account_id", "an account id has 12 digits"))
        for name in ("since", "until"):
            if getattr(self, name) and self._date(name) is None:
                self.problems.append((name, "give a date as YYYY-MM-DD"))

    def _date(self, name: str) -> date | None:
        try:
            return date.fromisoformat(getattr(self, name))
        except ValueError:
            return None

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(
            (self.script_id, self.user, self.status, self.account_id, self.since, self.until)
        )

    def errors_for(self, name: str) -> list[str]:
        return [message for where, message in self.problems if where == name]

    def _valid(self, name: str) -> str:
        return "" if self.errors_for(name) else getattr(self, name)

    @property
    def created_after(self) -> datetime | None:
        day = self._date("since") if self._valid("since") else None
        return datetime.combine(day, datetime.min.time(), UTC) if day else None

    @property
    def created_before(self) -> datetime | None:
        """The day after ``until``: the range includes the whole of its last day."""
        day = self._date("until") if self._valid("until") else None
        return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) if day else None

    def query(self) -> ExecutionQuery:
        return ExecutionQuery(
            script_id=parse_id(self._valid("script_id")),
            requested_by=self.user or None,
            status=self._valid("status") or None,
            account_id=self._valid("account_id") or None,
            created_after=self.created_after,
            created_before=self.created_before,
        )

    def api_query(self) -> dict[str, str]:
        """The same filters as the API's ``/executions/export`` takes them."""
        query = self.query()
        params = {
            "script_id": str(query.script_id or ""),
            "requested_by": query.requested_by or "",
            "status": query.status or "",
            "account_id": query.account_id or "",
            "since": query.created_after.isoformat() if query.created_after else "",
            "until": query.created_before.isoformat() if query.created_before else "",
        }
        return {key: value for key, value in params.items() if value}

    def page_url(self, offset: int) -> str:
        params = {
            "script_id": self.script_id,
            "user": self.user,
            "status": self.status,
            "account_id": self.account_id,
            "since": self.since,
            "until": self.until,
            "offset": str(offset) if offset else "",
        }
        query = urlencode({key: value for key, value in params.items() if value})
        return f"{BASE}/executions" + (f"?{query}" if query else "")

    def export_url(self, format: str) -> str:
        return f"{API}/executions/export?" + urlencode({"format": format, **self.api_query()})


@router.get("/executions", response_class=HTMLResponse, dependencies=[require(READ)])
async def history(request: Request, session: DbSession, offset: Offset = 0) -> Any:
    filters = HistoryFilters.of(request.query_params, offset)
    # A list beside a rejected filter would look filtered and is not: show none.
    rows, total = (
        ([], 0)
        if filters.problems
        else await executions.list_executions(
            session, filters.query(), limit=HISTORY_PAGE, offset=filters.offset
        )
    )
    all_scripts = await scripts.list_scripts(session, include_archived=True, limit=10_000)
    following = filters.offset + HISTORY_PAGE
    return page(
        request,
        "executions.html",
        {
            "filters": filters,
            "executions": rows,
            "total": total,
            "scripts": all_scripts,
            "statuses": EXECUTION_STATUSES,
            "previous_url": filters.page_url(max(filters.offset - HISTORY_PAGE, 0))
            if filters.offset
            else None,
            "next_url": filters.page_url(following) if following < total else None,
            "first": filters.offset + 1,
            "last": filters.offset + len(rows),
            "execute_permission": EXECUTE,
        },
        status=422 if filters.problems else 200,
    )


# -------------------------------------------------------------------------------------------
# One execution
# -------------------------------------------------------------------------------------------


def output_link(location: str | None) -> str | None:
    """The address a browser can open for a truncated output, if it is one."""
    if location and location.startswith("https://"):
        return location
    return None


@router.get("/executions/{execution_id}", response_class=HTMLResponse, dependencies=[require(READ)])
async def execution_detail(request: Request, execution_id: PathId, session: DbSession) -> Any:
    """The execution, a page of its batches and a page of its instances, each paged by key
    (``batches_after``, ``after``): bounded however many targets it has."""
    execution = await executions.get_execution(session, execution_id)
    status_filter = form_text(request.query_params, "instance_status")
    if status_filter not in INSTANCE_STATUSES:
        status_filter = ""
    after_text = form_text(request.query_params, "after") or None
    after = executions.parse_target_key(after_text)
    batches_after = _batch_number(form_text(request.query_params, "batches_after"))
    targets = await executions.targets_of(
        session, execution_id, status=status_filter or None, limit=TARGETS_PAGE + 1, after=after
    )
    batches = await executions.batches_of(
        session, execution_id, after=batches_after, limit=BATCHES_PAGE + 1
    )
    finished = execution.status in FINISHED
    failures = sum(n for status, n in execution.counts.items() if status in RERUN_STATUSES)

    def page_url(anchor: str, **changed: str) -> str:
        params = {
            "instance_status": status_filter,
            "after": after_text or "",
            "batches_after": str(batches_after) if batches_after is not None else "",
            **changed,
        }
        query = urlencode({key: value for key, value in params.items() if value})
        return f"{BASE}/executions/{execution_id}" + (f"?{query}" if query else "") + anchor

    more_targets = len(targets) > TARGETS_PAGE
    more_batches = len(batches) > BATCHES_PAGE
    targets, batches = targets[:TARGETS_PAGE], batches[:BATCHES_PAGE]
    spec = execution.target_spec
    saved_name = str(spec.get("name", ""))
    return page(
        request,
        "execution.html",
        {
            "execution": execution,
            "targets": targets,
            "batches": batches,
            "first_batches_url": page_url("#batches", batches_after="")
            if batches_after is not None
            else None,
            "more_batches_url": page_url("#batches", batches_after=str(batches[-1].number))
            if more_batches
            else None,
            "finished": finished,
            "failures": failures,
            "counters": _counters(execution.counts),
            "instance_statuses": INSTANCE_STATUSES,
            "status_filter": status_filter,
            "previous_url": page_url("#instances", after="") if after is not None else None,
            "next_url": page_url("#instances", after=executions.target_key_text(targets[-1]))
            if more_targets
            else None,
            "targets_summary": describe_targets(_spec_targets(spec), saved_name),
            "events_url": f"{API}/executions/{execution_id}/events",
            "api_url": f"{API}/executions/{execution_id}",
            "execute_permission": EXECUTE,
            "output_link": output_link,
            "rerun_statuses": sorted(RERUN_STATUSES),
            # An instance that failed shows its output unfolded: the reason is in it.
            "open_statuses": sorted(ERROR_STATUSES),
            "details_beside": details_beside,
            "details_spellings": " ".join(f"{k}={v}" for k, v in DETAILS_SPELLINGS.items()),
        },
    )


def _batch_number(text: str) -> int | None:
    """``batches_after`` as a batch number; a 422 naming it otherwise."""
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise InvalidInput([("batches_after", "must be a batch number")])
    return int(text)


def _spec_targets(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An execution's ``target_spec`` in the shape of ``ExecutionDraft.targets``."""
    kind = spec.get("kind", "instance_ids")
    if kind == "source":
        return {"source": {"name": spec.get("source"), "reference": spec.get("reference", "")}}
    if kind == "saved_filter_id":
        return {"saved_filter_id": spec.get("saved_filter_id"), "name": spec.get("name", "")}
    if kind == "filter":
        return {"filter": spec.get("filter") or {}}
    return {kind: spec.get(kind) or []}


def _counters(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Every status with instances, in :data:`INSTANCE_STATUSES` order, then any other."""
    known = [(status, counts.get(status, 0)) for status in INSTANCE_STATUSES if counts.get(status)]
    others = sorted((s, n) for s, n in counts.items() if s not in INSTANCE_STATUSES and n)
    return known + others


# Cancel and rerun act on production servers: the buttons on the execution page open a
# confirmation page (GET), and only its form, which carries ``confirm=yes``, acts. A POST
# without it (an old page, a hand-made form) is sent to the confirmation page instead.
CONFIRMED = "yes"

#: Failed instances a rerun confirmation lists by id; the rest are counted.
RERUN_LISTED = 50


def _confirmed(data: Mapping[str, Any]) -> bool:
    return form_text(data, "confirm") == CONFIRMED


@router.get("/executions/{execution_id}/cancel", response_class=HTMLResponse)
async def confirm_cancel(
    request: Request,
    execution_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    here = f"{BASE}/executions/{execution_id}"
    execution = await executions.get_execution(session, execution_id)
    if execution.status in FINISHED:
        flash(request, f"Execution #{execution_id} has ended: there is nothing to cancel.", "info")
        return RedirectResponse(here, status_code=303)
    return page(
        request,
        "execution_confirm.html",
        {
            "execution": execution,
            "action": "cancel",
            "heading": f"Cancel execution #{execution_id}?",
            "confirm_label": f"Cancel execution #{execution_id}",
            "back_label": "Keep it running",
            "instances": [],
            "instance_count": execution.target_count,
        },
    )


@router.post("/executions/{execution_id}/cancel")
async def cancel_execution(
    request: Request,
    execution_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Response:
    here = f"{BASE}/executions/{execution_id}"
    if not _confirmed(await request.form()):
        return RedirectResponse(f"{here}/cancel", status_code=303)
    try:
        await executions.request_cancel(
            session, execution_id, Actor.from_principal(principal, request)
        )
    except Conflict as exc:
        flash(request, str(exc), "warning")
    # No flash when it is accepted: a "Cancelling" message would stay on the live page
    # after the run ended. The page's status, its "Cancelling…" button and "Cancel
    # requested" say it, and follow the run. (The request's session commits before the
    # redirect is sent.)
    return RedirectResponse(here, status_code=303)


@router.get("/executions/{execution_id}/rerun", response_class=HTMLResponse)
async def confirm_rerun(
    request: Request,
    execution_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    here = f"{BASE}/executions/{execution_id}"
    try:
        draft = await executions.rerun_draft(session, execution_id)
    except NotFound:
        raise  # core answers 404
    except ScriptRunnerError as exc:
        flash(request, f"Not rerun: {exc}", "error")
        return RedirectResponse(here, status_code=303)
    execution = await executions.get_execution(session, execution_id)
    instances = list(draft.targets["instances"])
    count = len(instances)
    return page(
        request,
        "execution_confirm.html",
        {
            "execution": execution,
            "action": "rerun",
            "heading": f"Rerun the failed instances of execution #{execution_id}?",
            "confirm_label": f"Rerun on {count} instance{'s' if count != 1 else ''}",
            "back_label": f"Back to execution #{execution_id}",
            "instances": instances[:RERUN_LISTED],
            "instance_count": count,
        },
    )


@router.post("/executions/{execution_id}/rerun")
async def rerun_execution(
    request: Request,
    execution_id: PathId,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Response:
    here = f"{BASE}/executions/{execution_id}"
    if not _confirmed(await request.form()):
        return RedirectResponse(f"{here}/rerun", status_code=303)
    try:
        draft = await executions.rerun_draft(session, execution_id)
        execution = await executions.start_execution(
            session,
            draft,
            config,
            Actor.from_principal(principal, request),
            registry=registry,
            contexts=PluginContext.request_factory(request),
            rerun_of=execution_id,
            rerun_kind=RerunKind.FAILED,
        )
    except NotFound:
        raise  # core answers 404
    except ScriptRunnerError as exc:
        flash(request, f"Not rerun: {exc}", "error")
        return RedirectResponse(here, status_code=303)
    await executions.launch(session, execution)
    flash(
        request,
        f"Execution #{execution.id} reruns the failed instances of #{execution_id}.",
        "success",
    )
    return RedirectResponse(f"{BASE}/executions/{execution.id}", status_code=303)
