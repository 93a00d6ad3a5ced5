"""``/changes``: ServiceNow change requests and the configuration items they affect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import ERROR_RESPONSES
from pcm_ops.security import Principal, require
from pcm_servicenow_cmdb.dependencies import ServiceNowReads, my_groups
from pcm_servicenow_cmdb.ids import READ
from pcm_servicenow_cmdb.services import changes, cmdb

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


class MappedInstanceOut(BaseModel):
    """The EC2 instance a CI maps to."""

    instance_id: str
    account_id: str
    region: str
    name: str = Field(description="Its Name tag in the inventory (the CI's name otherwise).")
    private_ip: str
    ping_status: str | None = Field(
        description="SSM's ping status from the script runner's inventory (Online, "
        "ConnectionLost, Inactive, NotManaged); null when the inventory does not know the "
        "instance or the script runner is not installed."
    )


class AffectedCIOut(BaseModel):
    """A CI, what the CMDB says about it (``instance_id``, ``account_id``, ``region`` are
    the CMDB's), and the instance it maps to."""

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
    mapped_to: MappedInstanceOut | None = Field(
        description="The EC2 instance the CI maps to; null when it maps to none "
        "(mapping_note says why)."
    )
    matched_by: Literal["instance id", "IP address", "host name"] | None
    mapping_note: str = Field(
        description="Why the CI maps to no instance, or what its mapping lacks (SSM status)."
    )


class ChangeDetail(ChangeOut):
    connection: str
    inventory: bool = Field(
        description="Whether CIs were mapped against the script runner's inventory (false: "
        "it is not installed; CIs map by the CMDB's instance id only, without SSM status)."
    )
    affected_cis: list[AffectedCIOut]


def ci_out(mapping: cmdb.CIMapping) -> dict[str, Any]:
    """An :class:`AffectedCIOut` of a mapped CI."""
    instance = mapping.instance
    return {
        **{
            name: getattr(mapping.ci, name)
            for name in AffectedCIOut.model_fields
            if hasattr(mapping.ci, name)
        },
        "relations": list(mapping.ci.relations),
        "mapped_to": None
        if instance is None
        else {name: getattr(instance, name) for name in MappedInstanceOut.model_fields},
        "matched_by": mapping.matched_by,
        "mapping_note": mapping.note,
    }


def change_out(change: changes.Change) -> dict[str, Any]:
    values = {
        name: getattr(change, name) for name in ChangeOut.model_fields if name != "window_open"
    }
    return {**values, "window_open": change.window_open(datetime.now(UTC))}


@router.get("", response_model=list[ChangeOut])
async def list_changes(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(READ)],
    connection: ConnectionName = None,
    refresh: Annotated[bool, Query(description="Ask ServiceNow again, not the cache.")] = False,
    q: Annotated[str, Query(max_length=200, description="A change number or words")] = "",
    state: Annotated[list[str], Query(description="state values, e.g. -1 (Implement)")] = [],  # noqa: B006
    approval: Annotated[str | None, Query(pattern=r"^[a-z_ ]{1,30}$")] = None,
    type: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$")] = None,
    open_now: bool = False,
    mine: Annotated[
        bool,
        Query(
            description="Only changes assigned to one of my groups (the groups setting maps "
            "PCM-Ops usernames to ServiceNow assignment groups); 422 when I have none."
        ),
    ] = False,
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
    groups = my_groups(request.app, principal.username) if mine else []
    reads = await ServiceNowReads.of(request, session, connection)
    search = changes.ChangeSearch(
        text=q,
        states=state,
        approval=approval,
        type=type,
        group_names=groups,
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
    """One change with its affected CIs, each with the EC2 instance it maps to (account,
    region, name, SSM ping status from the script runner's inventory) or why it maps to
    none."""
    reads = await ServiceNowReads.of(request, session, connection)
    change, cis = await reads.change_detail(number, refresh=refresh)
    mappings, inventory = await cmdb.map_with(request.app.state.registry, session, cis)
    return {
        **change_out(change),
        "connection": reads.row.name,
        "inventory": inventory,
        "affected_cis": [ci_out(mapping) for mapping in mappings],
    }
