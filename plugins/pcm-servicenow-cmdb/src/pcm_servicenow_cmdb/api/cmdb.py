"""``/cis``: CMDB lookups by name, host name, instance id or IP address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import ERROR_RESPONSES
from pcm_ops.security import require
from pcm_servicenow_cmdb.api.changes import AffectedCIOut, ChangeOut, ConnectionName, change_out
from pcm_servicenow_cmdb.dependencies import ServiceNowReads
from pcm_servicenow_cmdb.ids import READ

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
    reads = await ServiceNowReads.of(request, session, connection)
    found = await reads.lookup(q)
    return [
        {
            "ci": {**item.ci.__dict__, "relations": list(item.ci.relations)},
            "matched_by": item.how,
            "changes": [change_out(change) for change in item.changes],
        }
        for item in found
    ]
