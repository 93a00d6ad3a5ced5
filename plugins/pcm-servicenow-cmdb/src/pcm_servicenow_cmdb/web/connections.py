"""The connections page, under ``/tools/servicenow/cmdb/connections``: every connection with
its last check's outcome (for every reader, never a secret), and for admins the forms that
add, change, test and remove one.

The forms go through the same services as the JSON API
(:mod:`pcm_servicenow_cmdb.services.connections`): a connection is checked with a real call
before it is saved, its secrets are encrypted, every change is audited. A form with problems
is shown again with every problem next to its field (422); a form that worked redirects
(POST/redirect/GET) with a flashed message. Forms carry the session's CSRF token; core checks
it before a route runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import PathId
from pcm_ops.audit import Actor
from pcm_ops.errors import ConflictError, InvalidInput, UpstreamError
from pcm_ops.security import Principal, require
from pcm_ops.web import flash, render
from pcm_servicenow_cmdb.ids import MANAGE, PAGES, READ
from pcm_servicenow_cmdb.models import SnowConnection
from pcm_servicenow_cmdb.schemas import ConnectionIn, ConnectionUpdate
from pcm_servicenow_cmdb.services import connections

router = APIRouter()
LIST = f"{PAGES}/connections"
AUTH_KINDS = {
    "basic": "Basic (user name and password)",
    "oauth_client_credentials": "OAuth client credentials",
    "oauth_password": "OAuth password grant",
    "api_key": "API key (x-sn-apikey)",
}
SECRETS = ("password", "client_secret", "api_key", "client_key")
_TEXT = ("name", "base_url", "auth_kind", "username", "client_id")


@dataclass
class ConnectionForm:
    """The form's values as typed (secrets are never shown again) and its problems."""

    name: str = ""
    base_url: str = ""
    auth_kind: str = "basic"
    username: str = ""
    client_id: str = ""
    timeout_seconds: str = "10"
    rate_limit_per_second: str = ""
    ca_bundle: str = ""
    remove_ca_bundle: bool = False
    client_cert: str = ""
    remove_client_cert: bool = False
    secrets: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_form(cls, data: Mapping[str, Any]) -> ConnectionForm:
        def text(key: str) -> str:
            value = data.get(key, "")
            return value.strip() if isinstance(value, str) else ""

        typed: dict[str, Any] = {key: text(key) for key in _TEXT}
        secrets = {}
        for key in SECRETS:
            value = data.get(key, "")
            secrets[key] = value if isinstance(value, str) else ""
        return cls(
            **typed,
            timeout_seconds=text("timeout_seconds"),
            rate_limit_per_second=text("rate_limit_per_second"),
            ca_bundle=text("ca_bundle"),
            remove_ca_bundle=text("remove_ca_bundle") == "on",
            client_cert=text("client_cert"),
            remove_client_cert=text("remove_client_cert") == "on",
            secrets=secrets,
        )

    @classmethod
    def of(cls, row: SnowConnection) -> ConnectionForm:
        rate = row.rate_limit_per_second
        return cls(
            name=row.name,
            base_url=row.base_url,
            auth_kind=row.auth_kind,
            username=row.username,
            client_id=row.client_id,
            timeout_seconds=f"{row.timeout_seconds:g}",
            rate_limit_per_second="" if rate is None else f"{rate:g}",
        )

    def _numbers(self) -> dict[str, Any]:
        values: dict[str, Any] = {"timeout_seconds": self.timeout_seconds or "10"}
        values["rate_limit_per_second"] = self.rate_limit_per_second or None
        return values

    def new(self) -> ConnectionIn | None:
        """The connection to add, or ``None`` with :attr:`problems` set."""
        try:
            return ConnectionIn(
                **{key: getattr(self, key) for key in _TEXT},
                **self.secrets,
                ca_bundle=self.ca_bundle or None,
                client_cert=self.client_cert or None,
                **self._numbers(),
            )
        except ValidationError as exc:
            self.problems = _problems_of(exc)
            return None

    def update(self) -> ConnectionUpdate | None:
        """The changes to a connection (a secret left blank keeps its value; the CA bundle
        and the client certificate too, unless removed), or ``None`` with :attr:`problems`
        set."""
        values: dict[str, Any] = {key: getattr(self, key) for key in _TEXT if key != "name"}
        values.update({key: value for key, value in self.secrets.items() if value})
        if self.remove_ca_bundle:
            values["ca_bundle"] = None
        elif self.ca_bundle:
            values["ca_bundle"] = self.ca_bundle
        if self.remove_client_cert:
            values["client_cert"] = values["client_key"] = None
        elif self.client_cert:
            values["client_cert"] = self.client_cert
        values.update(self._numbers())
        try:
            return ConnectionUpdate(**values)
        except ValidationError as exc:
            self.problems = _problems_of(exc)
            return None


def _problems_of(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        where = str(error["loc"][-1]) if error["loc"] else "form"
        problems.append((where, str(error["msg"])))
    return problems


def _page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
) -> Any:
    values = {
        "base": PAGES,
        "auth_kinds": AUTH_KINDS,
        "needed": connections.NEEDED,
        "manage_permission": MANAGE,
        **context,
    }
    return render(request, f"servicenow-cmdb/{template}", values, status_code=status)


async def _list(
    request: Request, session: Any, form: ConnectionForm | None = None, status: int = 200
) -> Any:
    rows = [connections.out(row) for row in await connections.list_connections(session)]
    return _page(
        request,
        "connections.html",
        {"connections": rows, "form": form or ConnectionForm()},
        status,
    )


def _actor(request: Request, principal: Principal) -> Actor:
    return Actor.from_principal(principal, request)


def _refused(exc: Exception, form: ConnectionForm) -> int:
    """Put a service's refusal on the form's fields; the status to answer with."""
    if isinstance(exc, InvalidInput):
        form.problems = exc.problems
        return 422
    if isinstance(exc, ConflictError):
        form.problems = [("name", str(exc))]
        return 409
    form.problems = [("base_url", f"ServiceNow could not be checked: {exc}")]
    return 502


@router.get("/connections", response_class=HTMLResponse, dependencies=[require(READ)])
async def connection_list(request: Request, session: DbSession) -> Any:
    return await _list(request, session)


@router.post("/connections", response_class=HTMLResponse)
async def add_connection(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Any:
    form = ConnectionForm.from_form(await request.form())
    data = form.new()
    if data is None:
        return await _list(request, session, form, 422)
    try:
        row = await connections.create_connection(session, data, _actor(request, principal))
    except (InvalidInput, ConflictError, UpstreamError) as exc:
        status = _refused(exc, form)
        await session.rollback()
        return await _list(request, session, form, status)
    flash(request, f"Connection {row.name!r} added; ServiceNow answered the check.", "success")
    return RedirectResponse(LIST, status_code=303)


@router.get(
    "/connections/{connection_id}/edit",
    response_class=HTMLResponse,
    dependencies=[require(MANAGE)],
)
async def edit_connection(request: Request, connection_id: PathId, session: DbSession) -> Any:
    row = await connections.get_connection(session, connection_id)
    return _edit_page(request, connections.out(row), ConnectionForm.of(row))


def _edit_page(request: Request, row: Any, form: ConnectionForm, status: int = 200) -> Any:
    return _page(request, "connection_edit.html", {"connection": row, "form": form}, status)


@router.post("/connections/{connection_id}/edit", response_class=HTMLResponse)
async def save_connection(
    request: Request,
    connection_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Any:
    before = connections.out(await connections.get_connection(session, connection_id))
    form = ConnectionForm.from_form(await request.form())
    form.name = before.name
    data = form.update()
    if data is None:
        return _edit_page(request, before, form, 422)
    try:
        row = await connections.update_connection(
            session, connection_id, data, _actor(request, principal)
        )
    except (InvalidInput, ConflictError, UpstreamError) as exc:
        status = _refused(exc, form)
        # Nothing of a refused change is kept, as when the API refuses it.
        await session.rollback()
        return _edit_page(request, before, form, status)
    flash(request, f"Connection {row.name!r} saved; ServiceNow answered the check.", "success")
    return RedirectResponse(LIST, status_code=303)


@router.post("/connections/{connection_id}/test")
async def test_connection(
    request: Request,
    connection_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Any:
    ok, detail, row = await connections.check_connection(
        session, connection_id, _actor(request, principal)
    )
    if ok:
        flash(request, f"Connection {row.name!r} works: {detail}", "success")
    else:
        flash(request, f"Connection {row.name!r} failed its check: {detail}", "error")
    return RedirectResponse(LIST, status_code=303)


@router.post("/connections/{connection_id}/delete")
async def remove_connection(
    request: Request,
    connection_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Any:
    row = await connections.get_connection(session, connection_id)
    name = row.name
    await connections.delete_connection(session, connection_id, _actor(request, principal))
    flash(request, f"Connection {name!r} removed.", "success")
    return RedirectResponse(LIST, status_code=303)
