"""``/cis``: CMDB lookups by name, host name, instance id or IP address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import ERROR_RESPONSES
from pcm_ops.security import require
from pcm_servicenow_cmdb.api.changes import (
    AffectedCIOut,
    ChangeOut,
    ConnectionName,
    change_out,
    ci_out,
)
from pcm_servicenow_cmdb.dependencies import ServiceNowReads
from pcm_servicenow_cmdb.ids import READ
from pcm_servicenow_cmdb.services import cmdb

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
    """The CIs matching ``q``, where the CMDB places them, the EC2 instance each maps to
    (or why none), and the changes affecting them."""
    reads = await ServiceNowReads.of(request, session, connection)
    found = await reads.lookup(q)
    mappings, _ = await cmdb.map_with(
        request.app.state.registry, session, [item.ci for item in found]
    )
    return [
        {
            "ci": ci_out(mapping),
            "matched_by": item.how,
            "changes": [change_out(change) for change in item.changes],
        }
        for item, mapping in zip(found, mappings, strict=True)
    ]
