"""The change browser and a change's page: its window, state, approval and affected CIs, and
(with the script runner) a button that opens the run form on the change's instances with
the change filled in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from pcm_ops.api.deps import DbSession
from pcm_ops.errors import UpstreamError
from pcm_ops.security import require
from pcm_ops.web import render
from pcm_servicenow_cmdb.ids import READ
from pcm_servicenow_cmdb.services import changes, connections, pool

router = APIRouter(dependencies=[require(READ)])
BASE = "/tools/servicenow/cmdb"
#: The script runner's run form and the permission it needs (when it is installed).
RUN_FORM = "/tools/aws/script-runner/executions/new"
RUN_PERMISSION = "aws-script-runner:execute"


async def _client(request: Request, session: DbSession, name: str | None) -> Any:
    row = await connections.find_connection(session, name)
    return row, await request.app.state.servicenow_clients.client(row)


@router.get("/", response_class=HTMLResponse)
async def change_list(
    request: Request,
    session: DbSession,
    q: Annotated[str, Query(max_length=200)] = "",
    state: Annotated[str, Query(max_length=3)] = "",
    open_now: bool = False,
    connection: Annotated[str | None, Query(max_length=100)] = None,
    refresh: bool = False,
) -> Any:
    from pcm_servicenow_cmdb.client import ServiceNowError

    problems: list[tuple[str, str]] = []
    if state and state not in changes.STATES:
        problems.append(("state", f"unknown state {state!r}"))
    found: list[changes.Change] = []
    row = None
    if not problems:
        row, client = await _client(request, session, connection)
        search = changes.ChangeSearch(
            text=q,
            states=[state] if state else [],
            open_at=datetime.now(UTC) if open_now else None,
        )
        try:
            found = await pool.list_changes_cached(
                request.app.state.servicenow_clients,
                row,
                client,
                search,
                _cache_seconds(request),
                refresh=refresh,
            )
        except ServiceNowError as exc:
            raise UpstreamError(f"connection {row.name!r}: {exc}") from None
    now = datetime.now(UTC)
    return render(
        request,
        "servicenow-cmdb/changes.html",
        {
            "changes": found,
            "open": {change.number: change.window_open(now) for change in found},
            "q": q,
            "state": state,
            "open_now": open_now,
            "states": changes.STATES,
            "problems": problems,
            "connection": row.name if row else "",
            "base": BASE,
        },
        status_code=422 if problems else 200,
    )


@router.get("/changes/{number}", response_class=HTMLResponse)
async def change_page(
    request: Request,
    session: DbSession,
    number: Annotated[str, Path(pattern=r"^CHG\d{1,12}$")],
    connection: Annotated[str | None, Query(max_length=100)] = None,
    refresh: bool = False,
) -> Any:
    from pcm_servicenow_cmdb.client import ServiceNowError

    row, client = await _client(request, session, connection)
    try:
        change, cis = await pool.change_detail_cached(
            request.app.state.servicenow_clients,
            row,
            client,
            number,
            _cache_seconds(request),
            refresh=refresh,
        )
    except ServiceNowError as exc:
        raise UpstreamError(f"connection {row.name!r}: {exc}") from None
    placed = [ci for ci in cis if ci.instance_id and ci.account_id and ci.region]
    registry = request.app.state.registry
    runner = registry.get("aws-script-runner")
    run_url = None
    if runner is not None and runner.loaded and placed:
        query = [("instance_id", ci.instance_id or "") for ci in placed]
        query.append(("change_reference", change.number))
        run_url = f"{RUN_FORM}?{urlencode(query)}"
    return render(
        request,
        "servicenow-cmdb/change.html",
        {
            "change": change,
            "cis": cis,
            "placed": len(placed),
            "window_open": change.window_open(datetime.now(UTC)),
            "run_url": run_url,
            "run_permission": RUN_PERMISSION,
            "connection": row.name,
            "base": BASE,
        },
    )


def _cache_seconds(request: Request) -> float:
    """The plugin's ``cache_seconds`` setting."""
    record = request.app.state.registry.get("servicenow-cmdb")
    return float(record.config.cache_seconds) if record is not None and record.config else 0.0
