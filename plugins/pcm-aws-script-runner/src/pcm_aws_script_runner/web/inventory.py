"""The Fleet pages (``/tools/aws/script-runner/inventory``): the inventory with its filters,
its sync state and errors, "Sync now", saved filters, and the way to the run form.

The filter is the query string (the API's parameters: ``account_id``, ``region``,
``state``, ``platform``, ``ping_status``, ``tag``, ``q``, each repeatable) plus ``sort``,
``order``, ``limit`` and ``offset``; a bookmark keeps a view. Choosing instances leads to
the run form, ``/tools/aws/script-runner/executions/new``, with

- ``instance_id`` (repeated): the instances ticked;
- the filter's parameters prefixed ``f_`` (``f_state=running&f_tag=env=prod``): "every
  instance matching", resolved when the execution runs
  (:func:`~pcm_aws_script_runner.services.inventory.filter_from_query` with
  ``prefix="f_"``);
- ``saved_filter`` (an id): every instance matching a saved filter when it runs.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from pcm_aws_script_runner.dependencies import Config
from pcm_aws_script_runner.ids import EXECUTE, PAGE_PREFIX, PLUGIN_ID, READ
from pcm_aws_script_runner.services import inventory
from pcm_aws_script_runner.services.errors import Conflict, InvalidInput
from pcm_aws_script_runner.services.input_problems import in_words
from pcm_aws_script_runner.services.inventory import InventoryFilter
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import INT32_MAX, PathId
from pcm_ops.audit import Actor
from pcm_ops.security import Principal, require
from pcm_ops.web import flash, render

router = APIRouter()

BASE = PAGE_PREFIX
FLEET = f"{BASE}/inventory"
RUN_FORM = f"{BASE}/executions/new"
PAGE_SIZES = (25, 50, 100, 200, 500)
DEFAULT_PAGE_SIZE = 50
#: The id of the filter form's element each query parameter is typed in (problems link
#: to it and are shown next to it).
FILTER_FIELDS = {
    "q": "fleet-q",
    "account_id": "fleet-account",
    "region": "fleet-region",
    "state": "fleet-state",
    "platform": "fleet-platform",
    "ping_status": "fleet-ping-status",
    "tag": "fleet-tags",
    "limit": "fleet-limit",
    "offset": "fleet-count",
    "sort": "fleet-count",
}
#: At most this many lines in the account and region lists; more scroll.
MAX_LIST_LINES = 8
#: The table's columns: (sort key, heading).
COLUMNS = (
    ("name", "Name"),
    ("instance_id", "Instance"),
    ("account_id", "Account"),
    ("region", "Region"),
    ("state", "State"),
    ("platform", "Platform"),
    ("ping_status", "SSM"),
    ("private_ip", "Private IP"),
    ("synced_at", "Synced"),
)


def _multi(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def split_tags(values: list[str]) -> tuple[list[str], list[str]]:
    """The tag filters typed in the tag boxes, one per box, except that a box holding
    ``Team=data, Role=worker`` (comma-separated ``key=value`` pairs) is read as one tag
    each. A comma in a box without ``=`` in every part stays part of the tag.

    :return: the tags, and the boxes that were split (to say so on the page).
    """
    tags: list[str] = []
    split: list[str] = []
    for value in values:
        parts = [part.strip() for part in value.split(",")]
        if len(parts) > 1 and all("=" in part and part.partition("=")[0] for part in parts):
            tags += parts
            split.append(value)
        else:
            tags.append(value)
    return tags, split


def _whole_number(
    text: str, name: str, problems: list[tuple[str, str]], *, low: int, high: int
) -> int | None:
    value = text.strip()
    number = int(value) if value.isdigit() and len(value) <= 10 else None
    if number is None or not low <= number <= high:
        problems.append((name, f"“{text}” is not a whole number from {low} to {high:,}"))
        return None
    return number


async def _registry_accounts(request: Request) -> list[Any]:
    aws = getattr(request.app.state, "aws_clients", None)
    return list(await aws.list_accounts()) if aws is not None else []


@router.get("/inventory", response_class=HTMLResponse, dependencies=[require(READ)])
async def fleet(
    request: Request,
    session: DbSession,
    config: Config,
    sort: str = "name",
    order: str = "asc",
    limit_text: Annotated[str, Query(alias="limit")] = str(DEFAULT_PAGE_SIZE),
    offset_text: Annotated[str, Query(alias="offset")] = "0",
) -> Any:
    params = _multi(request)
    params["tag"], split = split_tags(params.get("tag", []))
    problems: list[tuple[str, str]] = []
    flt = InventoryFilter()
    rows: list[Any] = []
    total = 0
    try:
        flt = inventory.filter_from_query(params)
    except InvalidInput as exc:
        problems = [(where, in_words(message)) for where, message in exc.problems]
    limit = _whole_number(limit_text, "limit", problems, low=1, high=max(PAGE_SIZES))
    offset = _whole_number(offset_text, "offset", problems, low=0, high=INT32_MAX)
    limit, offset = limit or DEFAULT_PAGE_SIZE, offset or 0
    if sort not in inventory.SORTS:
        problems.append(("sort", f"{sort!r} is not a column to sort by"))
        sort = "name"
    order = "desc" if order == "desc" else "asc"
    if not problems:
        rows, total = await inventory.query_instances(
            session, flt, sort=sort, descending=order == "desc", limit=limit, offset=offset
        )
    accounts = await _registry_accounts(request)
    status = await inventory.inventory_status(
        session, [(a.account_id, region) for a in accounts for region in a.regions]
    )
    names = {account.account_id: account.name for account in accounts}
    filter_query = inventory.filter_to_query(flt)

    def url(**changes: Any) -> str:
        """This view's URL with ``changes`` (sort, order, offset, limit)."""
        view = {"sort": sort, "order": order, "limit": limit, "offset": offset, **changes}
        extra = [(k, str(v)) for k, v in view.items() if v not in (None, "")]
        return f"{FLEET}?{urlencode(filter_query + extra)}"

    filter_query_prefixed = inventory.filter_to_query(flt, prefix="f_")
    saved = await inventory.list_saved_filters(session)
    field_errors: dict[str, list[str]] = {}
    for where, message in problems:
        field_errors.setdefault(where, []).append(message)
    account_choices = sorted({s.account_id for s in status.account_regions})
    region_choices = sorted({s.region for s in status.account_regions})
    return render(
        request,
        f"{PLUGIN_ID}/inventory.html",
        {
            "sr_base": BASE,
            "fleet_url": FLEET,
            "run_form": RUN_FORM,
            "execute_permission": EXECUTE,
            "flt": flt,
            "problems": problems,
            "field_errors": field_errors,
            "filter_fields": FILTER_FIELDS,
            "split_tags": split,
            # What was typed stays in the boxes, also when it is wrong.
            "tag_boxes": [t for t in params["tag"] if t.strip()]
            if problems
            else [t.text() for t in flt.tags],
            "typed_search": (params.get("q") or [""])[-1] if problems else flt.search,
            "params": params,
            "rows": rows,
            "total": total,
            "sort": sort,
            "order": order,
            "limit": limit,
            "offset": offset,
            "page_sizes": PAGE_SIZES,
            "columns": COLUMNS,
            "url": url,
            "status": status,
            "schedule": config.inventory_sync_schedule,
            "account_names": names,
            "account_choices": account_choices,
            "region_choices": region_choices,
            # Lists show every choice up to MAX_LIST_LINES: none is hidden below the fold.
            "account_lines": max(2, min(len(account_choices), MAX_LIST_LINES)),
            "region_lines": max(2, min(len(region_choices), MAX_LIST_LINES)),
            "states": inventory.STATES,
            "platforms": inventory.PLATFORMS,
            "ping_statuses": inventory.PING_STATUSES,
            "run_matching_url": f"{RUN_FORM}?{urlencode(filter_query_prefixed)}",
            "saved_filters": saved,
            "filter_query": urlencode(filter_query),
            "previous_url": url(offset=max(offset - limit, 0)) if offset > 0 else None,
            "next_url": url(offset=offset + limit) if offset + len(rows) < total else None,
        },
        status_code=422 if problems else 200,
    )


@router.post("/inventory/sync")
async def sync_now(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> RedirectResponse:
    from pcm_ops.jobs import JobsError

    try:
        job_id = await inventory.request_sync(session, Actor.from_principal(principal, request))
    except JobsError as exc:
        flash(request, f"The sync could not start: {exc}", "error")
    else:
        flash(
            request,
            f"Sync of every account and region started (job {job_id}); reload to see it.",
            "success",
        )
    return RedirectResponse(FLEET, status_code=303)


@router.post("/inventory/filters")
async def save_filter(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> RedirectResponse:
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    values["tag"], _ = split_tags(values.get("tag", []))
    kept = [(k, v) for k, vs in values.items() if k in inventory.QUERY_PARAMETERS for v in vs]
    back = f"{FLEET}?{urlencode(kept)}"
    name = (values.get("name") or [""])[-1]
    try:
        flt = inventory.filter_from_query(values)
        row = await inventory.create_saved_filter(
            session,
            name,
            flt,
            Actor.from_principal(principal, request),
            description=(values.get("description") or [""])[-1],
        )
    except (InvalidInput, Conflict) as exc:
        flash(request, f"The filter was not saved: {exc}", "error")
        return RedirectResponse(back, status_code=303)
    flash(request, f"Filter {row.name!r} saved.", "success")
    return RedirectResponse(back, status_code=303)


@router.get(
    "/inventory/filters/{filter_id}", dependencies=[require(READ)], response_class=HTMLResponse
)
async def apply_saved_filter(filter_id: PathId, session: DbSession) -> RedirectResponse:
    row = await inventory.get_saved_filter(session, filter_id)
    flt = inventory.saved_filter_of(row)
    return RedirectResponse(f"{FLEET}?{urlencode(inventory.filter_to_query(flt))}", status_code=303)


@router.post("/inventory/filters/{filter_id}/delete")
async def delete_filter(
    request: Request,
    filter_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> RedirectResponse:
    row = await inventory.get_saved_filter(session, filter_id)
    await inventory.delete_saved_filter(
        session, filter_id, Actor.from_principal(principal, request)
    )
    flash(request, f"Filter {row.name!r} deleted.", "success")
    return RedirectResponse(FLEET, status_code=303)
