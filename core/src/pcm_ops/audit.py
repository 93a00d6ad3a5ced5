"""The audit log: an append-only record of who did what, to which object, from where, and how
it ended. Core records logins, failed logins, role changes and token creation and
revocation; plugins record every change an operator makes.

A plugin's service function takes an :class:`~pcm_ops.audit.Actor` (who does it) and
writes the change and its audit event in the caller's transaction with
:func:`~pcm_ops.audit.record_by`; the route, the page and the command each make the actor
their own way and call the same service::

    from pcm_ops.audit import Actor, record_by

    async def create_note(session: AsyncSession, actor: Actor, title: str) -> Note:
        note = Note(title=title, created_by=actor.name)
        session.add(note)
        await session.flush()
        await record_by(session, actor, "example.note.create",
                        object_type="note", object_id=str(note.id), details={"title": title})
        return note

    # the route:   await create_note(session, Actor.from_principal(principal, request), title)
    # a command:   await create_note(session, Actor.cli(), title)
    # demo data:   await create_note(session, Actor.system("demo"), title)

:func:`~pcm_ops.audit.record` is the same without an actor, for code that has the request
(or a name) at hand. There is no update or delete: the API only appends, and on
PostgreSQL a trigger refuses UPDATE and DELETE on the table as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pcm_ops.security.models import AuditEvent

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession
    from starlette.requests import Request

    from pcm_ops.security.principal import Principal

__all__ = [
    "DENIED",
    "FAILURE",
    "SUCCESS",
    "Actor",
    "AuditEvent",
    "client_address",
    "query",
    "record",
    "record_by",
]

SUCCESS = "success"
FAILURE = "failure"
DENIED = "denied"


@dataclass(frozen=True)
class Actor:
    """Who does something: what a service needs to know to record authorship, decide what
    they may do, and write the audit log.

    Make one in the caller, not in the service:
    :meth:`~pcm_ops.audit.Actor.from_principal` in a route or a page,
    :meth:`~pcm_ops.audit.Actor.cli` in a command, :meth:`~pcm_ops.audit.Actor.system` for
    the platform's own work (demo data, a seed). Without a principal the actor is the
    host's operator (the command line runs as an administrator of the machine) and
    :meth:`~pcm_ops.audit.Actor.can` grants every permission.

    Attributes:
        name: who, in one word: the user's username, ``cli:<os user>``, or the system
            actor's name. What ``created_by`` columns record.
        principal: the authenticated principal, when the change comes through the API or
            the pages; ``None`` from the CLI and the system.
        request: the HTTP request, for the audit log's client address; ``None`` elsewhere.
    """

    name: str
    principal: Principal | None = None
    request: Request | None = None

    @classmethod
    def from_principal(cls, principal: Principal, request: Request | None = None) -> Actor:
        """The user a route or page acts for (``Annotated[Principal, require(...)]``)."""
        return cls(principal.username, principal, request)

    @classmethod
    def cli(cls) -> Actor:
        """The operator of this machine on the command line: named as
        :func:`pcm_ops.cli.session.cli_actor` names them (``cli:<os user>``)."""
        from pcm_ops.cli.session import cli_actor

        return cls(cli_actor())

    @classmethod
    def system(cls, name: str) -> Actor:
        """The platform itself, named ``name`` in the audit log (``demo``, a seed's name)."""
        return cls(name)

    @property
    def user_id(self) -> int | None:
        """The user's id; ``None`` for the CLI and the system, which belong to no user."""
        return self.principal.user_id if self.principal is not None else None

    @property
    def audit_name(self) -> str:
        """How the audit log names them: the principal's
        :attr:`~pcm_ops.security.principal.Principal.actor` (the username, with the token's
        name when one was used), else ``name``."""
        return self.principal.actor if self.principal is not None else self.name

    def can(self, permission: str) -> bool:
        """Whether they hold ``permission``; always true without a principal (the CLI and
        the system act as the host's operator)."""
        return self.principal.can(permission) if self.principal is not None else True


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


async def record_by(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str = SUCCESS,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log for what ``actor`` did, in ``session``'s
    transaction: :func:`~pcm_ops.audit.record` with the actor's principal, request and name.

    The event names the actor as :attr:`~pcm_ops.audit.Actor.audit_name` does, with the
    principal's user and token ids and the request's client address when there are.

    :param session: the database session of the change being audited.
    :param actor: who did it.
    :param action: a dotted name, prefixed with the plugin id.
    :param object_type: the kind of object acted on.
    :param object_id: its id.
    :param outcome: ``success``, ``failure`` or ``denied``.
    :param details: JSON-serialisable details. Never put secrets here.
    """
    return await record(
        session,
        actor.request,
        action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        details=details,
        principal=actor.principal,
        actor=actor.name,
    )


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
