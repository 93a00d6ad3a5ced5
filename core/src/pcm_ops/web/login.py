"""The login and logout pages (the browser side of ``/api/auth/login`` and ``/logout``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pcm_ops.api.deps import DbSession
from pcm_ops.security.auth import require
from pcm_ops.security.permissions import AUTHENTICATED
from pcm_ops.security.principal import Principal
from pcm_ops.web.flash import flash
from pcm_ops.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/favicon.ico")
async def favicon() -> RedirectResponse:
    """Browsers ask for it where a page declares no icon (Swagger UI, JSON in a tab)."""
    return RedirectResponse("/static/img/favicon.svg", status_code=308)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Any:
    return render(request, "core/login.html", {"next": safe_next(next), "username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Any:
    from pcm_ops.api.auth import log_in

    target = safe_next(next)
    response = RedirectResponse(target, status_code=303)
    try:
        await log_in(request, response, session, username, password)
    except HTTPException as exc:
        return render(
            request,
            "core/login.html",
            {"next": target, "username": username, "error": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )
    return response


@router.post("/logout")
async def logout_form(
    request: Request, session: DbSession, principal: Annotated[Principal, require(AUTHENTICATED)]
) -> Response:
    from pcm_ops import audit
    from pcm_ops.security.sessions import COOKIE_NAME, end_session

    session_id = request.cookies.get(COOKIE_NAME)
    if session_id:
        await end_session(session, session_id)
    await audit.record(
        session, request, "core.logout", object_type="user", object_id=principal.username
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    flash(response, "You are logged out.", "info")
    return response
