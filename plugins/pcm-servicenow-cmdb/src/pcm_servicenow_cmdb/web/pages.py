"""The change browser (with the "mine" filter), a change's page (its window, state, approval
and affected CIs, and with the script runner a button that opens the run form on the
change's instances with the change filled in) and the CMDB lookup page. The connections page
is :mod:`pcm_servicenow_cmdb.web.connections`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from pcm_ops.api.deps import DbSession
from pcm_ops.errors import InvalidInput, NotFoundError
from pcm_ops.security import Principal, require
from pcm_ops.web import render
from pcm_servicenow_cmdb.dependencies import ServiceNowReads, my_groups
from pcm_servicenow_cmdb.ids import READ, TARGET_SOURCE
from pcm_servicenow_cmdb.services import changes, cmdb

router = APIRouter(dependencies=[require(READ)])
BASE = "/tools/servicenow/cmdb"
#: The script runner's run form and the permission it needs (when it is installed).
RUN_FORM = "/tools/aws/script-runner/executions/new"
RUN_PERMISSION = "aws-script-runner:execute"


@router.get("/", response_class=HTMLResponse)
async def change_list(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(READ)],
    q: Annotated[str, Query(max_length=200)] = "",
    state: Annotated[str, Query(max_length=3)] = "",
    open_now: bool = False,
    mine: bool = False,
    connection: Annotated[str | None, Query(max_length=100)] = None,
    refresh: bool = False,
) -> Any:
    problems: list[tuple[str, str]] = []
    if state and state not in changes.STATES:
        problems.append(("state", f"unknown state {state!r}"))
    groups: list[str] = []
    if mine:
        try:
            groups = my_groups(request.app, principal.username)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    found: list[changes.Change] = []
    name = ""
    if not problems:
        reads = await ServiceNowReads.of(request, session, connection)
        search = changes.ChangeSearch(
            text=q,
            states=[state] if state else [],
            open_at=datetime.now(UTC) if open_now else None,
            group_names=groups,
        )
        found = await reads.list_changes(search, refresh=refresh)
        name = reads.row.name
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
            "mine": mine,
            "groups": groups,
            "states": changes.STATES,
            "problems": problems,
            "connection": name,
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
    reads = await ServiceNowReads.of(request, session, connection)
    change, cis = await reads.change_detail(number, refresh=refresh)
    notes = await reads.work_notes(change, refresh=refresh)
    mappings, inventory = await cmdb.map_with(request.app.state.registry, session, cis)
    mapped = [m.instance for m in mappings if m.instance is not None]
    run_url = None
    if inventory and mapped:
        if connection is None:
            # The change itself as the target source: the form's preview lists the CIs
            # that map to no instance with why, and the run resolves the change again.
            query = [("target_source", TARGET_SOURCE), ("reference", change.number)]
        else:  # the source reads the gate's connection; this page reads another one
            query = [("instance_id", instance.instance_id) for instance in mapped]
        query.append(("change_reference", change.number))
        run_url = f"{RUN_FORM}?{urlencode(query)}"
    return render(
        request,
        "servicenow-cmdb/change.html",
        {
            "change": change,
            "mappings": mappings,
            "mapped": len(mapped),
            "inventory": inventory,
            "window_open": change.window_open(datetime.now(UTC)),
            "run_url": run_url,
            "run_permission": RUN_PERMISSION,
            "work_notes": notes,
            "connection": reads.row.name,
            "base": BASE,
        },
    )


@router.get("/cis", response_class=HTMLResponse)
async def ci_lookup(
    request: Request,
    session: DbSession,
    q: Annotated[str, Query(max_length=255)] = "",
    connection: Annotated[str | None, Query(max_length=100)] = None,
) -> Any:
    """CMDB lookup: the CIs named ``q`` (or with that instance id, IP address or host name),
    where the CMDB places them, the EC2 instance each maps to and the changes affecting
    them; what ``GET /api/.../cis`` answers."""
    text = q.strip()
    found: list[tuple[cmdb.CILookup, cmdb.CIMapping]] = []
    problems: list[tuple[str, str]] = []
    missing = name = ""
    status = 200
    if text:
        reads = await ServiceNowReads.of(request, session, connection)
        name = reads.row.name
        try:
            items = await reads.lookup(text)
        except InvalidInput as exc:
            problems, status = exc.problems, 422
        except NotFoundError as exc:
            missing, status = str(exc), 404
        else:
            mappings, _ = await cmdb.map_with(
                request.app.state.registry, session, [item.ci for item in items]
            )
            found = list(zip(items, mappings, strict=True))
    return render(
        request,
        "servicenow-cmdb/cis.html",
        {
            "q": text,
            "found": found,
            "problems": problems,
            "missing": missing,
            "connection": name,
            "base": BASE,
        },
        status_code=status,
    )
