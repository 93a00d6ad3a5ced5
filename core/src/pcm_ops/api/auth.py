"""``/api/auth``: login and logout, the current user, API tokens and user management."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from pcm_ops import audit
from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import field_error
from pcm_ops.api.params import PathId
from pcm_ops.security.auth import require
from pcm_ops.security.permissions import AUTHENTICATED
from pcm_ops.security.principal import Principal

router = APIRouter(prefix="/api/auth", tags=["core"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    role: str
    via: str
    permissions: list[str]
    csrf_token: str | None = Field(
        default=None, description="Send it as X-CSRF-Token on state-changing requests."
    )


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] | None = Field(
        default=None,
        min_length=1,
        description="A subset of your permissions; default: all of them (as the CLI does).",
    )
    expires_in_days: int | None = Field(default=90, ge=1, le=366)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    state: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class IssuedTokenOut(TokenOut):
    token: str = Field(description="The token itself; shown this once and never again.")


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    role: str = Field(pattern="^(admin|operator|viewer)$")


class UserPatch(BaseModel):
    role: str | None = Field(default=None, pattern="^(admin|operator|viewer)$")
    disabled: bool | None = None


class UserOut(BaseModel):
    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


def _token_out(token: Any, raw: str | None = None) -> dict[str, Any]:
    from pcm_ops.security.tokens import token_state

    body = {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "state": token_state(token),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
    }
    if raw is not None:
        body["token"] = raw
    return body


async def issue_token(
    session: Any,
    request: Request,
    principal: Principal,
    name: str,
    scopes: list[str] | None,
    expires_in_days: int | None,
) -> Any:
    """Issue a token for the signed-in user and audit it; ``scopes=None`` gives every
    permission the user holds (as ``pcm-ops tokens create`` does). Raises
    :class:`~pcm_ops.security.tokens.TokenError` naming the field it refuses. The API and
    the tokens page both call it."""
    from pcm_ops.security.models import User
    from pcm_ops.security.tokens import create_token

    user = await session.get(User, principal.user_id)
    assert user is not None
    issued = await create_token(
        session,
        user,
        name,
        sorted(principal.permissions) if scopes is None else scopes,
        principal.permissions,
        expires_in_days,
    )
    await audit.record(
        session,
        request,
        "core.token.create",
        object_type="token",
        object_id=str(issued.token.id),
        details={"name": issued.token.name, "scopes": issued.token.scopes},
    )
    return issued


async def own_token(session: Any, principal: Principal, token_id: int) -> Any:
    """The token ``token_id`` if it is the user's (any user's for an admin), else ``None``."""
    from pcm_ops.security.models import ApiToken

    token = await session.get(ApiToken, token_id)
    if token is None:
        return None
    if token.user_id != principal.user_id and not principal.can("core:users.manage"):
        return None
    return token


async def withdraw_token(session: Any, request: Request, token: Any) -> None:
    """Revoke ``token`` (nothing changes if it already is) and audit it."""
    from pcm_ops.security.tokens import revoke_token

    await revoke_token(session, token)
    await audit.record(
        session,
        request,
        "core.token.revoke",
        object_type="token",
        object_id=str(token.id),
        details={"name": token.name},
    )


def _cookie_is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def log_in(
    request: Request, response: Response, session: Any, username: str, password: str
) -> Any:
    """Check the password (throttled), start a session and set its cookie; audit it."""
    from pcm_ops.security.sessions import COOKIE_NAME, create_session
    from pcm_ops.security.users import LoginThrottled, Throttle, authenticate

    settings = request.app.state.settings
    throttle = Throttle(
        max_per_account=settings.login_max_failures_per_account,
        max_per_address=settings.login_max_failures_per_address,
        window=timedelta(minutes=settings.login_failure_window_minutes),
    )
    address = audit.client_address(request) or "unknown"
    try:
        user = await authenticate(session, throttle, username, password, address)
    except LoginThrottled as exc:
        await audit.record(
            session,
            request,
            "core.login",
            object_type="user",
            object_id=username,
            outcome=audit.DENIED,
            actor=username,
            details={"reason": "throttled"},
        )
        await session.commit()
        raise HTTPException(
            status_code=429, detail=str(exc), headers={"Retry-After": str(exc.retry_after)}
        ) from None
    if user is None:
        await audit.record(
            session,
            request,
            "core.login",
            object_type="user",
            object_id=username,
            outcome=audit.FAILURE,
            actor=username,
        )
        await session.commit()
        raise HTTPException(status_code=401, detail="wrong username or password")
    session_id, row = await create_session(
        session, user, address, request.headers.get("user-agent")
    )
    await audit.record(
        session,
        request,
        "core.login",
        object_type="user",
        object_id=user.username,
        actor=user.username,
    )
    response.set_cookie(
        COOKIE_NAME,
        session_id,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_cookie_is_secure(request),
        path="/",
    )
    return user, row


@router.post("/login", response_model=Me, summary="Log in; sets the session cookie")
async def login(body: LoginIn, request: Request, response: Response, session: DbSession) -> Any:
    user, row = await log_in(request, response, session, body.username, body.password)
    permissions = request.app.state.permissions.for_role(user.role)
    return Me(
        username=user.username,
        role=user.role,
        via="session",
        permissions=sorted(permissions),
        csrf_token=row.csrf_token,
    )


@router.post("/logout", status_code=204, summary="End the browser session")
async def logout(
    request: Request,
    response: Response,
    session: DbSession,
    principal: Annotated[Principal, require(AUTHENTICATED)],
) -> None:
    from pcm_ops.security.sessions import COOKIE_NAME, end_session

    session_id = request.cookies.get(COOKIE_NAME)
    if session_id:
        await end_session(session, session_id)
    await audit.record(
        session, request, "core.logout", object_type="user", object_id=principal.username
    )
    response.delete_cookie(COOKIE_NAME, path="/")


@router.get("/me", response_model=Me, summary="Who am I, and what may I do")
async def me(principal: Annotated[Principal, require(AUTHENTICATED)]) -> Any:
    return Me(
        username=principal.username,
        role=principal.role,
        via=principal.via,
        permissions=sorted(principal.permissions),
        csrf_token=principal.csrf_token,
    )


@router.get("/tokens", response_model=list[TokenOut], summary="My API tokens")
async def list_my_tokens(
    session: DbSession, principal: Annotated[Principal, require("core:tokens.manage")]
) -> Any:
    from pcm_ops.security.tokens import list_tokens

    return [_token_out(token) for token in await list_tokens(session, principal.user_id)]


@router.post(
    "/tokens",
    response_model=IssuedTokenOut,
    status_code=201,
    summary="Create an API token (shown once)",
)
async def create_my_token(
    body: TokenIn,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("core:tokens.manage")],
) -> Any:
    from pcm_ops.security.tokens import TokenError

    try:
        issued = await issue_token(
            session, request, principal, body.name, body.scopes, body.expires_in_days
        )
    except TokenError as exc:
        raise field_error(exc.field, exc.problem) from None
    return _token_out(issued.token, issued.raw)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke one of my tokens")
async def revoke_my_token(
    token_id: PathId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("core:tokens.manage")],
) -> None:
    token = await own_token(session, principal, token_id)
    if token is None:
        raise HTTPException(status_code=404, detail=f"token {token_id} not found")
    await withdraw_token(session, request, token)


def _user_out(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


@router.get("/users", response_model=list[UserOut], summary="All users (admin)")
async def list_all_users(
    session: DbSession, _: Annotated[Principal, require("core:users.manage")]
) -> Any:
    from pcm_ops.security.users import list_users

    return [_user_out(user) for user in await list_users(session)]


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (admin)")
async def create_new_user(
    body: UserIn,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require("core:users.manage")],
) -> Any:
    from pcm_ops.security.users import UserError, create_user

    try:
        user = await create_user(session, body.username, body.password, body.role)
    except UserError as exc:
        if exc.status_code == 422:
            raise field_error(exc.field, str(exc).split(": ", 1)[1]) from None
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from None
    await audit.record(
        session,
        request,
        "core.user.create",
        object_type="user",
        object_id=user.username,
        details={"role": user.role},
    )
    return _user_out(user)


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    summary="Change a user's role or disable them (admin)",
)
async def change_user(
    username: str,
    body: UserPatch,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("core:users.manage")],
) -> Any:
    from pcm_ops.security.service import UserChange, change_user_account
    from pcm_ops.security.users import UserError

    try:
        user = await change_user_account(
            session,
            username,
            UserChange(role=body.role, disabled=body.disabled),
            request=request,
            principal=principal,
        )
    except UserError as exc:
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from None
    return _user_out(user)
