"""Integers a request may carry, bounded by the columns they end up in.

A database column holds a limited range: SQLAlchemy's ``Integer`` is 32-bit on PostgreSQL
(``BigInteger`` 64-bit), and SQLite refuses anything past 64 bits. An unbounded ``int`` in a
route lets a request send ``/scripts/99999999999999999999`` or ``?offset=2**63`` to the
database, which answers with an error (a 500) instead of "no such row", and answers it
differently on each backend. Declare ids and offsets with these types instead, in the API,
in page routes and in request bodies, and every backend answers the same:

==============================  ============================================================
``PathId`` / ``BigPathId``      a path segment naming a row by its id: anything that cannot
                                be an id of the column (0, negative, past its range) is a
                                **404**, as an id that could exist but does not is.
``Id`` / ``BigId``              an id in a query string or a request body: out of range is
                                a **422** naming the field (``loc: ["body", "script_id"]``).
``Offset``                      a page's offset (0 to :data:`INT32_MAX`), 422 past it.
``Int32`` / ``Int64``           any other value stored in an ``Integer`` / ``BigInteger``
                                column; narrow it with ``Query(ge=...)`` or ``Field(...)``.
==============================  ============================================================

Use the ``Big…`` types for ``BigInteger`` columns, the others for ``Integer`` (SQLModel's
``int`` fields are ``Integer``). Text that a page reads by hand (a form field, a query
parameter it parses itself) goes through :func:`parse_id` and :func:`parse_offset`.

A route::

    from typing import Annotated
    from fastapi import Path, Query
    from pcm_ops.api.params import Id, Offset, PathId

    @router.get("/notes/{note_id}", response_model=NoteOut)
    async def read_note(note_id: Annotated[PathId, Path(description="The note's id.")],
                        session: DbSession) -> Any: ...

    @router.get("/notes", response_model=list[NoteOut])
    async def list_notes(session: DbSession, author_id: Id | None = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 50,
                         offset: Offset = 0) -> Any: ...

and a request body::

    class NoteIn(BaseModel):
        folder_id: Id = Field(description="The folder the note goes in.")

The OpenAPI document shows each range (``minimum``/``maximum``), so clients and fuzzers
know it too.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Interval
from fastapi import HTTPException
from pydantic import ValidationError, ValidatorFunctionWrapHandler, WithJsonSchema, WrapValidator

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "BigId",
    "BigPathId",
    "Id",
    "Int32",
    "Int64",
    "Offset",
    "PathId",
    "parse_id",
    "parse_offset",
]

#: The largest value of an ``Integer`` column (32-bit on PostgreSQL).
INT32_MAX = 2**31 - 1
#: The smallest value of an ``Integer`` column.
INT32_MIN = -(2**31)
#: The largest value of a ``BigInteger`` column (and of any SQLite integer).
INT64_MAX = 2**63 - 1
#: The smallest value of a ``BigInteger`` column.
INT64_MIN = -(2**63)

#: Any value of an ``Integer`` column, in a query string or a body (422 outside).
Int32 = Annotated[int, Interval(ge=INT32_MIN, le=INT32_MAX)]
#: Any value of a ``BigInteger`` column, in a query string or a body (422 outside).
Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]

#: The id of a row of an ``Integer`` key (1 to :data:`INT32_MAX`) in a query string or a
#: body: anything else is a 422 that names the field. Also right for other positive
#: ``Integer`` keys, such as a version number.
Id = Annotated[int, Interval(ge=1, le=INT32_MAX)]
#: The id of a row of a ``BigInteger`` key (1 to :data:`INT64_MAX`), in a query or a body.
BigId = Annotated[int, Interval(ge=1, le=INT64_MAX)]

#: The offset of a page (0 to :data:`INT32_MAX`): rows to skip before the first one shown.
Offset = Annotated[int, Interval(ge=0, le=INT32_MAX)]


def _not_found(maximum: int) -> HTTPException:
    return HTTPException(
        status_code=404,
        detail=f"Not Found: an id is a whole number from 1 to {maximum}",
    )


def _path_id(maximum: int) -> WrapValidator:
    """Parse as pydantic parses an ``int``; a number no row can have is a 404."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> int:
        try:
            number = handler(value)
        except ValidationError as exc:
            # Digits beyond what pydantic parses are still a number, just too large a one.
            if any(error["type"] == "int_parsing_size" for error in exc.errors()):
                raise _not_found(maximum) from None
            raise
        if not 1 <= number <= maximum:
            # Raised from inside validation on purpose: FastAPI lets exceptions other than
            # pydantic's through, so the route never runs and the answer is this 404.
            raise _not_found(maximum)
        return int(number)

    return WrapValidator(validate)


#: A path segment naming a row of an ``Integer`` key: 1 to :data:`INT32_MAX`, and a 404
#: (not a 422, and never a database error) for any other number. Text that is not a number
#: at all stays a 422, like any other malformed parameter.
PathId = Annotated[
    int,
    _path_id(INT32_MAX),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": INT32_MAX}),
]
#: :data:`PathId` for a ``BigInteger`` key (1 to :data:`INT64_MAX`).
BigPathId = Annotated[
    int,
    _path_id(INT64_MAX),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": INT64_MAX}),
]


def _whole_number(text: str, minimum: int, maximum: int) -> int | None:
    text = text.strip()
    # Digits only (no sign, no "1_000"), and no more than the largest bound has: int() of a
    # long run of digits is slow, and such a number is out of range anyway.
    if not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


def parse_id(text: str, *, maximum: int = INT32_MAX) -> int | None:
    """The id ``text`` spells (a form field, a query parameter a page reads itself), or
    ``None`` when it is not a whole number from 1 to ``maximum`` (:data:`INT64_MAX` for a
    ``BigInteger`` key)."""
    return _whole_number(text, 1, maximum)


def parse_offset(text: str) -> int | None:
    """The page offset ``text`` spells, or ``None`` when it is not a whole number from 0 to
    :data:`INT32_MAX`."""
    return _whole_number(text, 0, INT32_MAX)
