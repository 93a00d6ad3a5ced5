"""ServiceNow connections: validated by a real call before they are saved, secrets
encrypted at rest and never returned, every change audited.

Errors are core's kinds (:mod:`pcm_ops.errors`): a problem with a field is an
``InvalidInput`` naming it (the credentials ServiceNow refused name the credential field),
a ServiceNow that cannot be reached an ``UpstreamError`` (502).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlmodel import col, select

from pcm_ops import audit
from pcm_ops.audit import Actor
from pcm_ops.db.types import utcnow
from pcm_ops.errors import ConflictError, InvalidInput, NotFoundError, UpstreamError
from pcm_servicenow_cmdb.models import SnowConnection
from pcm_servicenow_cmdb.schemas import ConnectionIn, ConnectionOut, ConnectionUpdate

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_servicenow_cmdb.client import ConnectionSettings

#: Which secret fields each way of authenticating needs, besides the username/client id.
NEEDED: dict[str, tuple[str, ...]] = {
    "basic": ("username", "password"),
    "oauth_client_credentials": ("client_id", "client_secret"),
    "oauth_password": ("client_id", "client_secret", "username", "password"),
    "api_key": ("api_key",),
}
_PEM_KEY = re.compile(r"-----BEGIN (?:RSA |EC |DSA )?PRIVATE KEY-----")
#: A check of a connection: makes one authenticated call, returns what it proved.
Checker = Callable[["ConnectionSettings"], Awaitable[str]]


def settings_of(row: SnowConnection) -> ConnectionSettings:
    """The client's settings for a stored connection (secrets decrypted)."""
    from pcm_servicenow_cmdb.client import ConnectionSettings

    return ConnectionSettings(
        name=row.name,
        base_url=row.base_url,
        auth_kind=row.auth_kind,
        username=row.username,
        password=row.password or "",
        client_id=row.client_id,
        client_secret=row.client_secret or "",
        api_key=row.api_key or "",
        ca_bundle=row.ca_bundle,
        client_cert=row.client_cert or None,
        client_key=row.client_key or None,
        timeout_seconds=row.timeout_seconds,
        rate_limit_per_second=row.rate_limit_per_second,
    )


async def check_with_client(settings: ConnectionSettings) -> str:
    """The default :data:`Checker`: one authenticated call through the real client."""
    from pcm_servicenow_cmdb.client import ServiceNowClient

    async with ServiceNowClient(settings) as client:
        return await client.check()


def out(row: SnowConnection) -> ConnectionOut:
    status = "unchecked" if row.last_checked_at is None else "error" if row.last_error else "ok"
    return ConnectionOut(
        id=row.id or 0,
        name=row.name,
        base_url=row.base_url,
        auth_kind=row.auth_kind,
        username=row.username,
        client_id=row.client_id,
        has_password=bool(row.password),
        has_client_secret=bool(row.client_secret),
        has_api_key=bool(row.api_key),
        has_ca_bundle=bool(row.ca_bundle),
        has_client_cert=bool(row.client_cert),
        has_client_key=bool(row.client_key),
        timeout_seconds=row.timeout_seconds,
        rate_limit_per_second=row.rate_limit_per_second,
        status=status,
        last_success_at=row.last_success_at,
        last_checked_at=row.last_checked_at,
        last_error=row.last_error,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _problems(row: SnowConnection) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not row.name.strip():
        problems.append(("name", "must not be empty"))
    url = urlsplit(row.base_url)
    host = url.hostname or ""
    if url.scheme not in ("https", "http") or not host:
        problems.append(
            ("base_url", "must be an instance address like https://acme.service-now.com")
        )
    elif url.scheme == "http" and not _loopback(host):
        problems.append(("base_url", "must use https (http only for a local instance)"))
    elif url.path not in ("", "/") or url.query or url.fragment:
        problems.append(("base_url", "must be the instance's address only, without a path"))
    for field in NEEDED.get(row.auth_kind, ()):
        if not (getattr(row, field) or "").strip():
            problems.append((field, f"is needed for {row.auth_kind} authentication"))
    if row.ca_bundle and "-----BEGIN CERTIFICATE-----" not in row.ca_bundle:
        problems.append(("ca_bundle", "must be PEM certificates (-----BEGIN CERTIFICATE-----)"))
    problems.extend(_client_certificate_problems(row.client_cert, row.client_key))
    return problems


def _client_certificate_problems(cert: str | None, key: str | None) -> list[tuple[str, str]]:
    """A client certificate comes with its key, both PEM, the key unencrypted."""
    problems: list[tuple[str, str]] = []
    if cert and "-----BEGIN CERTIFICATE-----" not in cert:
        problems.append(("client_cert", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)"))
    if key:
        if "-----BEGIN ENCRYPTED PRIVATE KEY-----" in key or "Proc-Type: 4,ENCRYPTED" in key:
            problems.append(("client_key", "must be unencrypted (it is stored encrypted)"))
        elif not _PEM_KEY.search(key):
            problems.append(
                ("client_key", "must be a PEM private key (-----BEGIN PRIVATE KEY-----)")
            )
    if cert and not key:
        problems.append(("client_key", "is needed with a client certificate"))
    elif key and not cert:
        problems.append(("client_cert", "is needed with a client key"))
    return problems


def _pem(text: str | None) -> str | None:
    """A PEM text as given, ``None`` when blank."""
    return text if text and text.strip() else None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _verify(row: SnowConnection, checker: Checker) -> str:
    """Make the connection's check call; record the outcome on ``row``.

    :raises InvalidInput: ServiceNow refused the credentials (names the credential field).
    :raises UpstreamError: ServiceNow could not be reached or answered an error.
    """
    from pcm_servicenow_cmdb.client import (
        InvalidTLSMaterial,
        ServiceNowAuthError,
        ServiceNowError,
    )

    now = utcnow()
    row.last_checked_at = now
    try:
        detail = await checker(settings_of(row))
    except ServiceNowAuthError as exc:
        row.last_error = str(exc)[:2000]
        field = (
            "api_key"
            if row.auth_kind == "api_key"
            else ("client_secret" if row.auth_kind == "oauth_client_credentials" else "password")
        )
        raise InvalidInput([(field, f"ServiceNow refused these credentials: {exc}")]) from None
    except InvalidTLSMaterial as exc:
        row.last_error = str(exc)[:2000]
        raise InvalidInput([(exc.field, str(exc))]) from None
    except ServiceNowError as exc:
        row.last_error = str(exc)[:2000]
        raise UpstreamError(f"connection {row.name!r}: {exc}") from None
    row.last_success_at, row.last_error = now, ""
    return detail


async def create_connection(
    session: AsyncSession, data: ConnectionIn, actor: Actor, *, checker: Checker = check_with_client
) -> SnowConnection:
    """Validate, check with a real call, save (secrets encrypted) and audit a connection."""
    row = SnowConnection(
        name=data.name.strip(),
        base_url=data.base_url.strip().rstrip("/"),
        auth_kind=data.auth_kind,
        username=data.username.strip(),
        client_id=data.client_id.strip(),
        password=data.password or None,
        client_secret=data.client_secret or None,
        api_key=data.api_key or None,
        ca_bundle=data.ca_bundle or None,
        client_cert=_pem(data.client_cert),
        client_key=_pem(data.client_key),
        timeout_seconds=data.timeout_seconds,
        rate_limit_per_second=data.rate_limit_per_second,
        created_by=actor.name,
    )
    problems = _problems(row)
    if problems:
        raise InvalidInput(problems)
    existing = await session.exec(select(SnowConnection).where(SnowConnection.name == row.name))
    if existing.first() is not None:
        raise ConflictError(f"a connection named {row.name!r} exists already; choose another name")
    await _verify(row, checker)
    session.add(row)
    await session.flush()
    await _audit(session, actor, "servicenow-cmdb.connection.create", row)
    return row


async def update_connection(
    session: AsyncSession,
    connection_id: int,
    data: ConnectionUpdate,
    actor: Actor,
    *,
    checker: Checker = check_with_client,
) -> SnowConnection:
    """Change a connection (a secret left out keeps its value; the client certificate and
    key too) and check it again."""
    row = await get_connection(session, connection_id)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if field in ("password", "client_secret", "api_key", "ca_bundle"):
            value = value or None
        elif field in ("client_cert", "client_key"):
            value = _pem(value)
        elif isinstance(value, str):
            value = value.strip().rstrip("/") if field == "base_url" else value.strip()
        setattr(row, field, value)
    problems = _problems(row)
    if problems:
        raise InvalidInput(problems)
    await _verify(row, checker)
    row.updated_at = utcnow()
    session.add(row)
    await _audit(session, actor, "servicenow-cmdb.connection.update", row, sorted(changes))
    return row


async def check_connection(
    session: AsyncSession, connection_id: int, actor: Actor, *, checker: Checker = check_with_client
) -> tuple[bool, str, SnowConnection]:
    """Check a saved connection again; the outcome is recorded (never raised)."""
    row = await get_connection(session, connection_id)
    try:
        detail, ok = await _verify(row, checker), True
    except (InvalidInput, UpstreamError) as exc:
        detail, ok = str(exc), False
    session.add(row)
    await _audit(session, actor, "servicenow-cmdb.connection.test", row, outcome_ok=ok)
    return ok, detail, row


async def delete_connection(session: AsyncSession, connection_id: int, actor: Actor) -> None:
    row = await get_connection(session, connection_id)
    await session.delete(row)
    await _audit(session, actor, "servicenow-cmdb.connection.delete", row)


async def list_connections(session: AsyncSession) -> list[SnowConnection]:
    statement = select(SnowConnection).order_by(col(SnowConnection.name))
    return list((await session.exec(statement)).all())


async def get_connection(session: AsyncSession, connection_id: int) -> SnowConnection:
    row = await session.get(SnowConnection, connection_id)
    if row is None:
        raise NotFoundError(f"there is no ServiceNow connection {connection_id}")
    return row


async def find_connection(session: AsyncSession, name: str | None) -> SnowConnection:
    """The connection named ``name``; without a name, the only one there is.

    :raises NotFoundError: none by that name, or none at all.
    :raises InvalidInput: no name given and there are several (field ``connection``).
    """
    rows = await list_connections(session)
    if name:
        for row in rows:
            if row.name == name:
                return row
        known = ", ".join(row.name for row in rows) or "none"
        raise NotFoundError(f"there is no ServiceNow connection named {name!r} (known: {known})")
    if not rows:
        raise NotFoundError(
            "no ServiceNow connection is configured; add one under "
            "/api/tools/servicenow/cmdb/connections or with `pcm-ops servicenow connections add`"
        )
    if len(rows) > 1:
        names = ", ".join(row.name for row in rows)
        raise InvalidInput([("connection", f"name one of the connections: {names}")])
    return rows[0]


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: SnowConnection,
    changed: list[str] | None = None,
    *,
    outcome_ok: bool = True,
) -> None:
    details: dict[str, Any] = {
        "name": row.name,
        "base_url": row.base_url,
        "auth_kind": row.auth_kind,
    }
    if changed is not None:
        details["changed"] = changed  # field names only: never a secret's value
    await audit.record(
        session,
        actor.request,
        action,
        object_type="servicenow-connection",
        object_id=str(row.id),
        outcome=audit.SUCCESS if outcome_ok else audit.FAILURE,
        details=details,
        principal=actor.principal,
        actor=None if actor.principal is not None else actor.name,
    )
