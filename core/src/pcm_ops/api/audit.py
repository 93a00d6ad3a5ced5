"""``GET /api/audit``: the audit log, filtered and paged, for admins. Read-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pcm_ops import audit
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import Id
from pcm_ops.security.auth import require
from pcm_ops.security.principal import Principal

router = APIRouter(prefix="/api", tags=["core"])


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str | None
    object_id: str | None
    client_address: str | None
    outcome: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_before_id: int | None


@router.get("/audit", response_model=AuditPage, summary="Audit log (admin), newest first")
async def read_audit_log(
    session: DbSession,
    _: Annotated[Principal, require("core:audit.read")],
    actor: str | None = None,
    action: Annotated[str | None, Query(description="Exact, or a prefix ending in *")] = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: Annotated[str | None, Query(pattern="^(success|failure|denied)$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[Id | None, Query(description="Events older than this one.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    events = await audit.query(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )
    next_before = events[-1].id if len(events) == limit else None
    return AuditPage(
        events=[AuditEventOut.model_validate(event, from_attributes=True) for event in events],
        next_before_id=next_before,
    )
