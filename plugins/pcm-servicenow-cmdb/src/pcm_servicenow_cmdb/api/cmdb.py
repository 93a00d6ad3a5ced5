"""``/cis``: CMDB lookups by name, host name, instance id or IP address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import ERROR_RESPONSES
from pcm_ops.errors import UpstreamError
from pcm_ops.security import require
from pcm_servicenow_cmdb.api.changes import AffectedCIOut, ChangeOut, ConnectionName, change_out
from pcm_servicenow_cmdb.ids import READ
from pcm_servicenow_cmdb.services import cmdb, connections

router = APIRouter(
    prefix="/cis",
    tags=["ServiceNow CMDB"],
    dependencies=[require(READ)],
    responses={**ERROR_RESPONSES, 502: {"description": "ServiceNow could not be asked."}},
)


class CIOut(BaseModel):
    ci: AffectedCIOut
    matched_by: str
    changes: list[ChangeOut]


@router.get("", response_model=list[CIOut])
async def lookup(
    request: Request,
    session: DbSession,
    q: Annotated[
        str, Query(min_length=1, max_length=255, description="Name, instance id or IP address")
    ],
    connection: ConnectionName = None,
) -> Any:
    """The CIs matching ``q``, where the CMDB places them, and the changes affecting them."""
    from pcm_servicenow_cmdb.client import ServiceNowError

    row = await connections.find_connection(session, connection)
    client = await request.app.state.servicenow_clients.client(row)
    try:
        found = await cmdb.lookup(client, q)
    except ServiceNowError as exc:
        raise UpstreamError(f"connection {row.name!r}: {exc}") from None
    return [
        {
            "ci": {**item.ci.__dict__, "relations": list(item.ci.relations)},
            "matched_by": item.how,
            "changes": [change_out(change) for change in item.changes],
        }
        for item in found
    ]
