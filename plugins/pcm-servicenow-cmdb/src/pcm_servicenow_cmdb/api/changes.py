"""``/changes``: ServiceNow change requests and the configuration items they affect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import ERROR_RESPONSES
from pcm_ops.security import require
from pcm_servicenow_cmdb.dependencies import ServiceNowReads
from pcm_servicenow_cmdb.ids import READ
from pcm_servicenow_cmdb.services import changes

router = APIRouter(
    prefix="/changes",
    tags=["ServiceNow changes"],
    dependencies=[require(READ)],
    responses={
        **ERROR_RESPONSES,
        502: {"description": "ServiceNow could not be reached, or answered an error."},
    },
)

ChangeNumber = Annotated[str, Path(pattern=r"^CHG\d{1,12}$", description="e.g. CHG0030001")]
ConnectionName = Annotated[
    str | None,
    Query(max_length=100, description="The connection to ask; default: the only one."),
]


class ChangeOut(BaseModel):
    sys_id: str
    number: str
    short_description: str
    type: str
    state: str
    state_label: str
    approval: str
    start: datetime | None
    end: datetime | None
    on_hold: bool
    assignment_group: str
    risk: str
    window_open: bool


class AffectedCIOut(BaseModel):
    sys_id: str
    name: str
    ci_class: str
    instance_id: str | None
    ip_address: str
    host_name: str
    fqdn: str
    account_id: str | None
    region: str | None
    relations: list[str]


class ChangeDetail(ChangeOut):
    connection: str
    affected_cis: list[AffectedCIOut]


def change_out(change: changes.Change) -> dict[str, Any]:
    values = {
        name: getattr(change, name) for name in ChangeOut.model_fields if name != "window_open"
    }
    return {**values, "window_open": change.window_open(datetime.now(UTC))}


@router.get("", response_model=list[ChangeOut])
async def list_changes(
    request: Request,
    session: DbSession,
    connection: ConnectionName = None,
    refresh: Annotated[bool, Query(description="Ask ServiceNow again, not the cache.")] = False,
    q: Annotated[str, Query(max_length=200, description="A change number or words")] = "",
    state: Annotated[list[str], Query(description="state values, e.g. -1 (Implement)")] = [],  # noqa: B006
    approval: Annotated[str | None, Query(pattern=r"^[a-z_ ]{1,30}$")] = None,
    type: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$")] = None,
    open_now: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Any:
    """Changes matching the filters, newest planned start first."""
    unknown = [value for value in state if value not in changes.STATES]
    if unknown:
        from pcm_ops.errors import InvalidInput

        raise InvalidInput(
            [("state", f"unknown state value(s) {unknown}; known: {sorted(changes.STATES)}")]
        )
    reads = await ServiceNowReads.of(request, session, connection)
    search = changes.ChangeSearch(
        text=q,
        states=state,
        approval=approval,
        type=type,
        open_at=datetime.now(UTC) if open_now else None,
        limit=limit,
        offset=offset,
    )
    found = await reads.list_changes(search, refresh=refresh)
    return [change_out(change) for change in found]


@router.get("/{number}", response_model=ChangeDetail)
async def get_change(
    number: ChangeNumber,
    request: Request,
    session: DbSession,
    connection: ConnectionName = None,
    refresh: Annotated[bool, Query(description="Ask ServiceNow again, not the cache.")] = False,
) -> Any:
    """One change with its affected CIs and, for EC2 instances, their account and region."""
    reads = await ServiceNowReads.of(request, session, connection)
    change, cis = await reads.change_detail(number, refresh=refresh)
    return {
        **change_out(change),
        "connection": reads.row.name,
        "affected_cis": [{**ci.__dict__, "relations": list(ci.relations)} for ci in cis],
    }
