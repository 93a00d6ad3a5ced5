"""The audit log: an append-only record of who did what, to which object, from where, and how
it ended. Core records logins, failed logins, role changes and token creation and
revocation; plugins record every change an operator makes through :func:`record`.

Example, in a plugin's route::

    from pcm_ops.audit import record

    @router.post("/scripts", dependencies=[require("aws-script-runner:scripts.manage")])
    async def create_script(body: ScriptIn, request: Request, session: DbSession):
        script = ...
        await record(session, request, "aws-script-runner.script.create",
                     object_type="script", object_id=str(script.id), details={"name": body.name})

There is no update or delete: the API only appends, and on PostgreSQL a trigger refuses
UPDATE and DELETE on the table as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pcm_ops.security.models import AuditEvent

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession
    from starlette.requests import Request

    from pcm_ops.security.principal import Principal

SUCCESS = "success"
FAILURE = "failure"
DENIED = "denied"


def client_address(request: Request | None) -> str | None:
    if request is None or request.client is None:
        return None
    return request.client.host


async def record(
    session: AsyncSession,
    request: Request | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str = SUCCESS,
    details: dict[str, Any] | None = None,
    principal: Principal | None = None,
    actor: str | None = None,
) -> AuditEvent:
    """Append one event to the audit log, in ``session``'s transaction.

    :param session: the database session of the change being audited, so that the change
        and its audit event commit or roll back together.
    :param request: the HTTP request, for the actor and the client address (``None`` from
        the CLI or a background job).
    :param action: a dotted name, prefixed with the plugin id (``core.login``,
        ``aws-script-runner.execution.start``).
    :param object_type: the kind of object acted on (``user``, ``script``).
    :param object_id: its id.
    :param outcome: ``success``, ``failure`` or ``denied``.
    :param details: JSON-serialisable details. Never put secrets here.
    :param principal: who acted; default: the request's authenticated principal.
    :param actor: a name for who acted when there is no principal (``cli:root``, a
        username that failed to log in).
    """
    if principal is None and request is not None:
        principal = getattr(request.state, "principal", None)
    event = AuditEvent(
        actor=principal.actor if principal is not None else (actor or "anonymous"),
        user_id=principal.user_id if principal is not None else None,
        token_id=principal.token_id if principal is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        client_address=client_address(request),
        outcome=outcome,
        details=details or {},
    )
    session.add(event)
    await session.flush()
    return event


async def query(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEvent]:
    """Events matching every given filter, newest first; page with ``before_id``."""
    from sqlmodel import col, select

    statement = select(AuditEvent)
    if actor:
        statement = statement.where(AuditEvent.actor == actor)
    if action:
        if action.endswith("*"):
            statement = statement.where(col(AuditEvent.action).startswith(action[:-1]))
        else:
            statement = statement.where(AuditEvent.action == action)
    if object_type:
        statement = statement.where(AuditEvent.object_type == object_type)
    if object_id:
        statement = statement.where(AuditEvent.object_id == object_id)
    if outcome:
        statement = statement.where(AuditEvent.outcome == outcome)
    if since:
        statement = statement.where(col(AuditEvent.at) >= since)
    if until:
        statement = statement.where(col(AuditEvent.at) < until)
    if before_id:
        statement = statement.where(col(AuditEvent.id) < before_id)
    statement = statement.order_by(col(AuditEvent.id).desc()).limit(limit)
    return list((await session.exec(statement)).all())
