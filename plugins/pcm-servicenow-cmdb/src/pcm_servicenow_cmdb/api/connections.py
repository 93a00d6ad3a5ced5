"""``/connections``: the ServiceNow instances PCM-Ops talks to. Secrets are write-only;
adding or changing a connection checks it with a real call first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request

from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import ERROR_RESPONSES
from pcm_ops.api.params import PathId
from pcm_ops.audit import Actor
from pcm_ops.security import Principal, require
from pcm_servicenow_cmdb.ids import MANAGE, READ
from pcm_servicenow_cmdb.schemas import (
    ConnectionCheck,
    ConnectionIn,
    ConnectionOut,
    ConnectionUpdate,
)
from pcm_servicenow_cmdb.services import connections

router = APIRouter(
    prefix="/connections",
    tags=["ServiceNow connections"],
    responses={
        **ERROR_RESPONSES,
        502: {"description": "ServiceNow could not be reached, or answered an error."},
    },
)


def _actor(request: Request, principal: Principal) -> Actor:
    return Actor.from_principal(principal, request)


@router.get("", response_model=list[ConnectionOut], dependencies=[require(READ)])
async def list_connections(session: DbSession) -> Any:
    """Every connection, by name, with its last check's outcome (never a secret)."""
    return [connections.out(row) for row in await connections.list_connections(session)]


@router.post("", response_model=ConnectionOut, status_code=201)
async def add_connection(
    data: ConnectionIn,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Any:
    """Add a connection: checked with a real call first (credentials ServiceNow refuses are
    a 422 naming the field; an instance that cannot be reached a 502)."""
    row = await connections.create_connection(session, data, _actor(request, principal))
    return connections.out(row)


@router.get("/{connection_id}", response_model=ConnectionOut, dependencies=[require(READ)])
async def get_connection(connection_id: PathId, session: DbSession) -> Any:
    return connections.out(await connections.get_connection(session, connection_id))


@router.patch("/{connection_id}", response_model=ConnectionOut)
async def change_connection(
    connection_id: PathId,
    data: ConnectionUpdate,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Any:
    """Change a connection; a secret left out keeps its value. Checked again first."""
    row = await connections.update_connection(
        session, connection_id, data, _actor(request, principal)
    )
    return connections.out(row)


@router.post("/{connection_id}/check", response_model=ConnectionCheck)
async def check_connection(
    connection_id: PathId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Any:
    """Check a connection now; the outcome is recorded and shown in its status."""
    ok, detail, row = await connections.check_connection(
        session, connection_id, _actor(request, principal)
    )
    return ConnectionCheck(ok=ok, detail=detail, connection=connections.out(row))


@router.delete("/{connection_id}", status_code=204)
async def remove_connection(
    connection_id: PathId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> None:
    await connections.delete_connection(session, connection_id, _actor(request, principal))
