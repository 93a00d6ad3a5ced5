"""Errors that routes return, in the shapes their OpenAPI schema declares."""

from __future__ import annotations

from fastapi import HTTPException


def field_error(field: str, message: str, location: str = "body") -> HTTPException:
    """A 422 naming the field and the problem, shaped like FastAPI's validation errors
    (``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``) so that clients handle
    rule violations and schema violations the same way."""
    return HTTPException(
        status_code=422,
        detail=[{"loc": [location, field], "msg": message, "type": "value_error"}],
    )
