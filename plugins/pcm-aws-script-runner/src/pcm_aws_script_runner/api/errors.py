"""Turning the services' errors into HTTP errors, in the shapes the routes declare."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException

from pcm_aws_script_runner.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ScriptRunnerError,
    TargetResolutionError,
)
from pcm_ops.api.errors import field_error

#: The error responses routes list in their OpenAPI description.
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The permission is missing."},
    404: {"description": "No such script, version or target source."},
    409: {"description": "The change conflicts: a duplicate name, an archived script."},
    422: {"description": "A field is invalid; `detail[].loc` names it, `detail[].msg` says why."},
}


def http_error(exc: ScriptRunnerError) -> HTTPException:
    if isinstance(exc, InvalidInput):
        # One 422 listing every problem, each shaped like FastAPI's validation errors.
        details = [field_error(field, message).detail[0] for field, message in exc.problems]
        return HTTPException(status_code=422, detail=details)
    if isinstance(exc, NotFound):
        return HTTPException(status_code=404, detail=str(exc))
    if isinstance(exc, Conflict):
        return HTTPException(status_code=409, detail=str(exc))
    if isinstance(exc, TargetResolutionError):
        return HTTPException(status_code=502, detail=str(exc))
    return HTTPException(status_code=400, detail=str(exc))


@contextmanager
def service_errors() -> Iterator[None]:
    """Raise the HTTP error that matches a service error raised inside the block."""
    try:
        yield
    except ScriptRunnerError as exc:
        raise http_error(exc) from None
