"""Turning the services' errors into HTTP errors, in the shapes the routes declare."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException

from pcm_aws_common.services.errors import (
    AwsAccessError,
    AwsCommonError,
    AwsUnavailable,
    Conflict,
    FieldProblem,
    Forbidden,
    NotFound,
)
from pcm_ops.api.errors import field_error

#: The error responses routes list in their OpenAPI description.
RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "The permission is missing."},
    404: {"description": "No such object (or one the caller may not see)."},
    409: {"description": "The change conflicts with other objects."},
    422: {"description": "A field is invalid; `detail[].loc` names it."},
    502: {"description": "AWS could not be reached, or refused the platform's credentials."},
}


def http_error(exc: AwsCommonError) -> HTTPException:
    if isinstance(exc, FieldProblem):
        return field_error(exc.field, exc.message)
    if isinstance(exc, NotFound):
        return HTTPException(status_code=404, detail=str(exc))
    if isinstance(exc, Conflict):
        return HTTPException(status_code=409, detail=str(exc))
    if isinstance(exc, Forbidden):
        return HTTPException(status_code=403, detail=str(exc))
    if isinstance(exc, AwsUnavailable | AwsAccessError):
        return HTTPException(status_code=502, detail=str(exc))
    return HTTPException(status_code=400, detail=str(exc))


@contextmanager
def service_errors() -> Iterator[None]:
    """Raise the HTTP error that matches a service error raised inside the block."""
    try:
        yield
    except AwsCommonError as exc:
        raise http_error(exc) from None
