"""``/inventory``: the fleet inventory (read from the database, never from AWS), its sync
state, syncs on demand, and saved filters.

Reading needs ``aws-script-runner:read``; starting a sync and changing saved filters need
``aws-script-runner:execute`` (syncing only reads AWS, but it spends API calls on every
account). Filters are query parameters, repeated for lists (``?state=running&state=stopped``),
a tag as ``tag=key=value`` (or ``tag=key``: any value); a bad one is a 422 that names the
parameter (``loc: ["query", "account_id"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from pcm_aws_common.patterns import ACCOUNT_ID_PATTERN
from pcm_aws_script_runner.api.errors import RESPONSES
from pcm_aws_script_runner.api.schemas.inventory import (
    FilterPreviewOut,
    InstanceOut,
    InstancePage,
    InventoryStatusOut,
    SavedFilterIn,
    SavedFilterOut,
    SavedFilterPatch,
    SyncRequest,
    SyncStarted,
    instance_out,
    saved_filter_out,
    status_out,
)
from pcm_aws_script_runner.dependencies import Config
from pcm_aws_script_runner.ids import EXECUTE, READ
from pcm_aws_script_runner.services import inventory
from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.inventory import InventoryFilter
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import Offset, PathId
from pcm_ops.audit import Actor
from pcm_ops.security import Principal, require

# No tags: core tags every route of a plugin with its display name.
router = APIRouter(prefix="/inventory", responses=RESPONSES)

FilterId = Annotated[PathId, Path(description="The saved filter's id.")]


@contextmanager
def query_errors() -> Iterator[None]:
    """A service's :class:`InvalidInput` about query parameters as a 422 that names them
    (``loc: ["query", "<parameter>"]``), as FastAPI names its own query errors."""
    try:
        yield
    except InvalidInput as exc:
        detail = [
            {"loc": ["query", field], "msg": message, "type": "value_error"}
            for field, message in exc.problems
        ]
        raise HTTPException(status_code=422, detail=detail) from None


def _filter(
    account_id: list[str],
    region: list[str],
    state: list[str],
    platform: list[str],
    ping_status: list[str],
    tag: list[str],
    q: str,
) -> InventoryFilter:
    with query_errors():
        return inventory.filter_from_query(
            {
                "account_id": account_id,
                "region": region,
                "state": state,
                "platform": platform,
                "ping_status": ping_status,
                "tag": tag,
                "q": [q],
            }
        )


async def _registry_account_regions(request: Request) -> list[tuple[str, str]] | None:
    """Every account-region of aws-common's registry; ``None`` when aws-common is not
    running in this application."""
    aws = getattr(request.app.state, "aws_clients", None)
    if aws is None:
        return None
    accounts = await aws.list_accounts()
    return [(account.account_id, region) for account in accounts for region in account.regions]


@router.get(
    "/instances",
    response_model=InstancePage,
    summary="Instances matching a filter, a page at a time",
    description="From the database: what the last sync of each account-region saw (see "
    "`GET /inventory/status` for how fresh it is). Each list parameter may repeat; values "
    "of one parameter are alternatives, parameters all apply.",
    dependencies=[require(READ)],
)
async def list_instances(
    session: DbSession,
    account_id: Annotated[list[str], Query(description="12-digit account id.")] = [],  # noqa: B006
    region: Annotated[list[str], Query(description="Region name.")] = [],  # noqa: B006
    state: Annotated[list[str], Query(description=", ".join(inventory.STATES))] = [],  # noqa: B006
    platform: Annotated[list[str], Query(description=", ".join(inventory.PLATFORMS))] = [],  # noqa: B006
    ping_status: Annotated[list[str], Query(description=", ".join(inventory.PING_STATUSES))] = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="`key=value`, or `key`: any value.")] = [],  # noqa: B006
    q: Annotated[str, Query(max_length=200, description="Text in the name or instance id.")] = "",
    sort: Annotated[str, Query(description=", ".join(inventory.SORTS))] = "name",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Any:
    flt = _filter(account_id, region, state, platform, ping_status, tag, q)
    with query_errors():
        rows, total = await inventory.query_instances(
            session, flt, sort=sort, descending=order == "desc", limit=limit, offset=offset
        )
    following = offset + len(rows)
    return InstancePage(
        items=[instance_out(row) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=following if following < total else None,
        sort=sort,
        order=order,
        filter=flt,
    )


@router.get(
    "/instances/{account_id}/{region}/{instance_id}",
    response_model=InstanceOut,
    summary="One instance",
    dependencies=[require(READ)],
)
async def get_instance(
    session: DbSession,
    account_id: Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN)],
    region: Annotated[str, Path(max_length=30)],
    instance_id: Annotated[str, Path(max_length=32)],
) -> Any:
    row = await inventory.get_instance(session, account_id, region, instance_id)
    return instance_out(row)


@router.get(
    "/status",
    response_model=InventoryStatusOut,
    summary="How fresh the inventory is, per account-region, with the errors of the last syncs",
    dependencies=[require(READ)],
)
async def sync_status(request: Request, session: DbSession, config: Config) -> Any:
    status = await inventory.inventory_status(session, await _registry_account_regions(request))
    return InventoryStatusOut(
        last_synced_at=status.last_synced_at,
        oldest_success_at=status.oldest_success_at,
        running=status.running,
        instance_count=status.instance_count,
        schedule=config.inventory_sync_schedule,
        account_regions=[status_out(s) for s in status.account_regions],
        errors=[status_out(s) for s in status.errors],
    )


@router.post(
    "/sync",
    response_model=SyncStarted,
    status_code=202,
    summary="Sync the inventory from AWS now",
    description="Queues a sync job and returns at once; follow it at `events_url`. Without "
    "a body (or without `account_regions`), every account of the registry is synced in each "
    "of its regions.",
    responses={503: {"description": "The job engine does not run."}},
)
async def start_sync(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
    body: SyncRequest | None = None,
) -> Any:
    from pcm_ops.jobs import JobsError

    pairs = None
    if body is not None and body.account_regions is not None:
        pairs = inventory.clean_account_regions(
            (item.account_id, item.region) for item in body.account_regions
        )
        known = await _registry_account_regions(request)
        if known is not None:
            allowed = set(known)
            accounts = {account for account, _ in known}
            problems = [
                (
                    f"account_regions[{index}].account_id",
                    f"account {account} is not in the accounts registry",
                )
                if account not in accounts
                else (
                    f"account_regions[{index}].region",
                    f"region {region} is not enabled for account {account}",
                )
                for index, (account, region) in enumerate(pairs)
                if (account, region) not in allowed
            ]
            if problems:
                raise InvalidInput(problems)
    try:
        job_id = await inventory.request_sync(
            session, Actor.from_principal(principal, request), account_regions=pairs
        )
    except JobsError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    return SyncStarted(
        job_id=job_id,
        job_url=f"/api/jobs/{job_id}",
        events_url=f"/api/jobs/{job_id}/events",
        account_regions=[{"account_id": a, "region": r} for a, r in pairs] if pairs else None,
    )


# -- saved filters ---------------------------------------------------------------------------


async def _saved_out(session: Any, row: Any) -> SavedFilterOut:
    flt = inventory.saved_filter_of(row)
    return saved_filter_out(row, flt, await inventory.count_instances(session, flt))


@router.get(
    "/filters",
    response_model=list[SavedFilterOut],
    summary="Saved filters, by name",
    dependencies=[require(READ)],
)
async def list_saved_filters(session: DbSession) -> Any:
    rows = await inventory.list_saved_filters(session)
    return [await _saved_out(session, row) for row in rows]


@router.post(
    "/filters",
    response_model=SavedFilterOut,
    status_code=201,
    summary="Save a filter under a name",
)
async def create_saved_filter(
    body: SavedFilterIn,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    row = await inventory.create_saved_filter(
        session,
        body.name,
        body.filter,
        Actor.from_principal(principal, request),
        description=body.description,
    )
    return await _saved_out(session, row)


@router.post(
    "/filters/preview",
    response_model=FilterPreviewOut,
    summary="How many instances a filter matches, and the first ten",
    dependencies=[require(READ)],
)
async def preview_filter(body: InventoryFilter, session: DbSession) -> Any:
    rows, total = await inventory.query_instances(session, body, limit=10)
    return FilterPreviewOut(total=total, items=[instance_out(row) for row in rows])


@router.get(
    "/filters/{filter_id}",
    response_model=SavedFilterOut,
    summary="A saved filter, with how many instances match it now",
    dependencies=[require(READ)],
)
async def get_saved_filter(filter_id: FilterId, session: DbSession) -> Any:
    row = await inventory.get_saved_filter(session, filter_id)
    return await _saved_out(session, row)


@router.put(
    "/filters/{filter_id}",
    response_model=SavedFilterOut,
    summary="Change a saved filter's name, description or filter",
    description="The fields given replace the current ones; the others are kept.",
)
async def update_saved_filter(
    filter_id: FilterId,
    body: SavedFilterPatch,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    row = await inventory.update_saved_filter(
        session,
        filter_id,
        Actor.from_principal(principal, request),
        name=body.name,
        description=body.description,
        flt=body.filter,
    )
    return await _saved_out(session, row)


@router.delete(
    "/filters/{filter_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a saved filter",
    description="Executions that targeted it keep the instances they resolved.",
)
async def delete_saved_filter(
    filter_id: FilterId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Response:
    await inventory.delete_saved_filter(
        session, filter_id, Actor.from_principal(principal, request)
    )
    return Response(status_code=204)
