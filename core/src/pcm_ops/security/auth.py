"""Authentication and authorization for every request.

:func:`authenticate` runs on every route of the application (it is an app-wide dependency):
a route is reachable without credentials only when its path is public (``/healthz``,
``/readyz``, ``/metrics`` by default, the login endpoints). Credentials are either an API
token (``Authorization: Bearer pcm_...``) or a browser session cookie; a state-changing
request made with a session cookie must carry the session's CSRF token in the
``X-CSRF-Token`` header or a ``csrf_token`` form field.

Routes declare the permission they need with :func:`require`::

    @router.post("/scripts", dependencies=[require("aws-script-runner:scripts.manage")])

or, to get the principal as well::

    async def start(principal: Principal = require("aws-script-runner:execute")): ...
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Depends, HTTPException, Request

from pcm_ops.security.principal import Principal

if TYPE_CHECKING:
    from pcm_ops.settings import Settings

#: Always public, whatever the settings say: without them nobody could log in.
LOGIN_PATHS = frozenset({"/login", "/api/auth/login"})
#: Reachable without credentials whatever the settings say: the login endpoints and the icon
#: browsers ask for on any page.
ALWAYS_PUBLIC = LOGIN_PATHS | {"/favicon.ico"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SCOPE_KEY = "pcm_ops.principal"


class LoginRequired(HTTPException):
    """401: no valid credentials. Browsers asking for a page are sent to the login page."""

    def __init__(self, detail: str = "authentication required: log in or send a bearer token"):
        super().__init__(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def is_public_path(path: str, settings: Settings) -> bool:
    """``path`` is served without credentials under ``settings``: the always-public paths
    and ``public_paths``."""
    return path in ALWAYS_PUBLIC or path in settings.public_paths


def is_public(request: Request) -> bool:
    path: str = request.scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        path = request.url.path  # as the URL has it (escaped); else the same, unbuilt
    return is_public_path(path, request.app.state.settings)


async def _csrf_token_sent(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches it for the route's own Form fields
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def _from_token(request: Request, raw: str) -> Principal:
    from pcm_ops.security.tokens import resolve_token

    state = request.app.state
    async with state.database.session() as session:
        resolved = await resolve_token(session, raw)
    if resolved is None:
        raise LoginRequired("the bearer token is unknown, expired or revoked")
    token, user = resolved
    role_permissions = state.permissions.for_role(user.role)
    return Principal(
        user_id=user.id or 0,
        username=user.username,
        role=user.role,
        permissions=role_permissions & frozenset(token.scopes),
        via="token",
        token_id=token.id,
        token_name=token.name,
    )


async def _from_session(request: Request, session_id: str) -> Principal | None:
    from pcm_ops.security.sessions import resolve_session

    state = request.app.state
    settings = state.settings
    async with state.database.session() as session:
        resolved = await resolve_session(
            session,
            session_id,
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
        )
    if resolved is None:
        return None
    row, user = resolved
    return Principal(
        user_id=user.id or 0,
        username=user.username,
        role=user.role,
        permissions=state.permissions.for_role(user.role),
        via="session",
        csrf_token=row.csrf_token,
    )


async def current_principal(request: Request) -> Principal | None:
    """The request's principal, or ``None``; computed once per request.

    Cached in the request's own scope (not in ``request.state``, whose dict an ASGI server
    may share between requests of one connection or lifespan)."""
    if SCOPE_KEY in request.scope:
        cached: Principal | None = request.scope[SCOPE_KEY]
        return cached
    from pcm_ops.security.sessions import COOKIE_NAME

    principal = None
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        principal = await _from_token(request, credentials.strip())
    elif request.cookies.get(COOKIE_NAME):
        principal = await _from_session(request, request.cookies[COOKIE_NAME])
    request.scope[SCOPE_KEY] = principal
    request.state.principal = principal  # for templates and audit records
    if principal is not None:
        from pcm_ops.logs import bind_log_context

        bind_log_context(user=principal.username)
    return principal


async def authenticate(request: Request) -> Principal | None:
    """The app-wide dependency: refuse requests without valid credentials on non-public
    paths, and session requests that change state without the CSRF token."""
    if is_public(request):
        return await current_principal(request) if request.cookies else None
    principal = await current_principal(request)
    if principal is None:
        raise LoginRequired()
    if principal.via == "session" and request.method not in SAFE_METHODS:
        sent = await _csrf_token_sent(request)
        if sent is None:
            raise HTTPException(
                status_code=403,
                detail=f"CSRF token missing: send the {CSRF_HEADER} header or a "
                f"{CSRF_FIELD} form field with this request",
            )
        if not hmac.compare_digest(sent, principal.csrf_token or ""):
            raise HTTPException(
                status_code=403, detail="CSRF token wrong: reload the page and try again"
            )
    return principal


def require(permission: str) -> Any:
    """A dependency that lets the request through only with ``permission``; gives the
    :class:`~pcm_ops.security.Principal`. Use it on every route (core refuses plugin routes
    without one)."""

    async def dependency(
        request: Request, principal: Principal | None = Depends(authenticate)
    ) -> Principal:
        if principal is None:
            raise LoginRequired()
        if not principal.can(permission):
            role_permissions = request.app.state.permissions.for_role(principal.role)
            raise HTTPException(
                status_code=403, detail=_refusal(principal, permission, role_permissions)
            )
        return principal

    dependency.pcm_permission = permission  # type: ignore[attr-defined]
    return Depends(dependency)


def _refusal(principal: Principal, permission: str, role_permissions: frozenset[str]) -> str:
    """Why ``principal`` may not use ``permission``: its role lacks it, or (the role has
    it) the API token it came with was not given that scope."""
    if permission not in role_permissions:
        return (
            f"permission {permission!r} is required, and role {principal.role!r} does not have it"
        )
    return (
        f"permission {permission!r} is required, and this API token's scopes do not include "
        f"it (role {principal.role!r} has it: use a token with that scope)"
    )


def declared_permission(route: Any) -> str | None:
    """The permission a route (anything with a ``dependant``, e.g. an
    :class:`~pcm_ops.routes.EffectiveRoute`) requires through :func:`require`, or ``None``."""
    if route.dependant is None:
        return None
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        permission = getattr(dependant.call, "pcm_permission", None)
        if permission is not None:
            return str(permission)
        pending.extend(dependant.dependencies)
    return None
