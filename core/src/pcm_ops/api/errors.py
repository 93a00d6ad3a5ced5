"""Errors that routes return, in the shapes their OpenAPI schema declares.

A route seldom needs these: a :class:`~pcm_ops.errors.ServiceError` raised by a service
propagates to core's handler, which answers with the error's status (JSON for the API, the
error page for a browser). Use :func:`field_error` for a rule the route checks itself, and
:func:`http_error` / :func:`service_errors` where a route wants the ``HTTPException``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException

from pcm_ops.errors import InvalidInput, ServiceError

__all__ = ["ERROR_RESPONSES", "field_error", "http_error", "service_errors"]

#: The error answers of :class:`~pcm_ops.errors.ServiceError`, for a router's ``responses``
#: (``APIRouter(responses=ERROR_RESPONSES)``): OpenAPI then documents them on every route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The permission is missing, or the object is not the caller's."},
    404: {"description": "No such object."},
    409: {"description": "The change conflicts with the state of the object or of others."},
    422: {"description": "A field is invalid; `detail[].loc` names it, `detail[].msg` says why."},
}


def field_error(field: str, message: str, location: str = "body") -> HTTPException:
    """A 422 naming the field and the problem, shaped like FastAPI's validation errors
    (``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``) so that clients handle
    rule violations and schema violations the same way."""
    return HTTPException(
        status_code=422,
        detail=[{"loc": [location, field], "msg": message, "type": "value_error"}],
    )


def http_error(exc: ServiceError) -> HTTPException:
    """The HTTP error for a service error: its ``status_code`` with its message, or for
    :class:`~pcm_ops.errors.InvalidInput` one 422 listing every problem by field."""
    if isinstance(exc, InvalidInput):
        details = [field_error(field, message).detail[0] for field, message in exc.problems]
        return HTTPException(status_code=422, detail=details)
    return HTTPException(status_code=exc.status_code, detail=str(exc))


@contextmanager
def service_errors() -> Iterator[None]:
    """Raise the HTTP error that matches a service error raised inside the block."""
    try:
        yield
    except ServiceError as exc:
        raise http_error(exc) from None
