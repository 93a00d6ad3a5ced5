"""Error pages: HTML for browsers, FastAPI's JSON ``{"detail": ...}`` for everyone else.

A response is HTML when the path is not under ``/api/`` and the client accepts
``text/html`` (browsers and htmx do). API clients, and every path under ``/api/``, get the
JSON FastAPI answers by default, including its 422 validation errors. An unhandled
exception is logged with its traceback and answered with a 500 that shows none. A browser
that is not logged in is sent to the login page when there is one (``/login``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pcm_ops.web.templating import base_context, web_state

__all__ = ["install_error_handlers", "wants_html"]

logger = logging.getLogger("pcm_ops.web")

#: Where a browser that is not logged in is sent, once a page is served there.
LOGIN_PAGE = "/login"

#: The error page's heading, by status; other statuses show the standard reason phrase.
TITLES = {
    401: "Login required",
    403: "Access denied",
    404: "Page not found",
    422: "Invalid request",
    500: "Server error",
    503: "Service unavailable",
}

#: What the error page says, by status.
MESSAGES = {
    400: "The request could not be understood.",
    401: "You need to log in to see this page.",
    403: "You do not have permission to see this page.",
    404: "There is no page at this address. It may have moved, or the link may be wrong.",
    405: "This page does not accept that kind of request.",
    422: "Some of the values sent with the request are not valid.",
    500: "Something went wrong on our side. The error has been logged; please try again "
    "later or tell your administrator.",
    503: "This part of PCM-Ops is unavailable right now.",
}

#: Shown when even the error template cannot be rendered.
FALLBACK_500 = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Server error · PCM-Ops</title>"
    "<h1>Server error</h1><p>Something went wrong on our side. The error has been logged."
)


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _accepts_html(accept: str) -> bool:
    for media_range in accept.split(","):
        media_type, *parameters = (part.strip() for part in media_range.split(";"))
        if media_type.lower() not in ("text/html", "application/xhtml+xml"):
            continue
        quality = next((p.partition("=")[2] for p in parameters if p.lower().startswith("q=")), "1")
        try:
            if float(quality) > 0:
                return True
        except ValueError:
            return True
    return False


def wants_html(request: Request) -> bool:
    """Whether an error for ``request`` should be an HTML page rather than JSON."""
    if is_api_path(request.url.path):
        return False
    if request.headers.get("hx-request") == "true":
        return True
    return _accepts_html(request.headers.get("accept", ""))


def error_page(
    request: Request,
    status_code: int,
    *,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[str] | None = None,
) -> HTMLResponse:
    """Render ``core/error.html`` for ``status_code``.

    ``detail`` is shown when it says more than the reason phrase (e.g. a route's
    ``HTTPException(404, "No such execution")``).
    """
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Error"
    title = TITLES.get(status_code, phrase)
    message = MESSAGES.get(status_code, phrase + ".")
    if detail in (title, phrase):
        detail = None
    context = base_context(request, show_flashes=status_code < 500)
    context.update(
        status_code=status_code, title=title, message=message, detail=detail, errors=errors
    )
    template = web_state(request).templates.get_template("core/error.html")
    return HTMLResponse(template.render(context), status_code=status_code, headers=headers)


async def _resolve_principal(request: Request) -> None:
    """Find out who is asking, for the navigation of an error page whose route never ran
    (an unknown path); a failure to find out counts as nobody."""
    from pcm_ops.security.auth import SCOPE_KEY, current_principal

    if SCOPE_KEY in request.scope:
        return

    try:
        await current_principal(request)
    except Exception:
        request.state.principal = None


def _login_page(request: Request) -> str | None:
    """The path of the login page (``None`` in an app built without core's pages)."""
    return LOGIN_PAGE if getattr(request.app.state, "web", None) is not None else None


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not wants_html(request) or exc.status_code < 400:
        return await http_exception_handler(request, exc)
    login = _login_page(request) if exc.status_code == 401 else None
    if login is not None and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{login}?{urlencode({'next': target})}", status_code=303)
    await _resolve_principal(request)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 401:
        detail = None  # "send a bearer token" is advice for API clients, not browsers
    return error_page(request, exc.status_code, detail=detail, headers=exc.headers)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    await _resolve_principal(request)
    from pcm_ops.errors import validation_problems

    errors = [f"{field}: {message}" for field, message in validation_problems(exc)]
    return error_page(request, 422, errors=errors)


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    """The last resort: log the traceback, show none."""
    logger.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    if not wants_html(request):
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
    try:
        return error_page(request, 500)
    except Exception:
        logger.exception("the error page itself failed to render")
        return HTMLResponse(FALLBACK_500, status_code=500)


async def handle_service_error(request: Request, exc: Exception) -> Response:
    """A service error that a route let propagate: the HTTP error it stands for."""
    from pcm_ops.api.errors import http_error
    from pcm_ops.errors import ServiceError

    assert isinstance(exc, ServiceError)
    return await handle_http_exception(request, http_error(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Install the HTML-or-JSON handlers for HTTP errors, validation errors, service errors
    and crashes."""
    from pcm_ops.errors import ServiceError

    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(ServiceError, handle_service_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
