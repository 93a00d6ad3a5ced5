"""Encoded queries for ServiceNow's Table API, built from typed values.

ServiceNow joins the conditions of an encoded query with ``^`` and has no way to escape it, so
a ``^`` that reaches the query from a value starts a new condition of the sender's choosing
(``short_descriptionLIKEx^ORactive=true``). :class:`Query` never pastes text into a query:
field names must look like field names, exact values that contain ``^`` are refused with an
error naming the field, and free-text searches lose their ``^`` and control characters::

    query = (
        Query()
        .eq("state", -1)
        .in_("approval", ["approved", "requested"])
        .ge("start_date", datetime(2026, 12, 1, tzinfo=UTC))
        .like("short_description", "patch ^ORactive=true")
        .order_by("number", desc=True)
    )
    str(query)  # 'state=-1^approvalINapproved,requested^start_date>=2026-12-01 00:00:00^'
                # 'short_descriptionLIKEpatch ORactive=true^ORDERBYDESCnumber'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

#: What a field name (or a dot-walked path such as ``assignment_group.name``) looks like.
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")

#: ServiceNow's date-time format in queries and values (always UTC through the API).
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: How many words of a free-text search become conditions; the rest are ignored.
MAX_SEARCH_TERMS = 8

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Value = str | int | datetime


def _check_field(field: str) -> str:
    if not isinstance(field, str) or not FIELD_NAME.fullmatch(field):
        raise ValueError(
            f"{field!r} is not a ServiceNow field name (lower-case letters, digits, '_' and "
            f"'.' for dot-walking, starting with a letter or '_')"
        )
    return field


def format_datetime(value: datetime) -> str:
    """``value`` in ServiceNow's format, in UTC; a naive ``value`` is taken to be UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(DATETIME_FORMAT)


def _exact(field: str, value: Value) -> str:
    """``value`` as text for an exact comparison on ``field``; refused if it could not
    stay one condition."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, datetime):
        text = format_datetime(value)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(
            f"a value for {field!r} must be str, int or datetime, not {type(value).__name__}"
        )
    if "^" in text:
        raise ValueError(
            f"the value for {field!r} contains '^', which ServiceNow reads as the start of "
            f"another condition and which cannot be escaped: {text!r}"
        )
    if _CONTROL.search(text):
        raise ValueError(f"the value for {field!r} contains control characters: {text!r}")
    return text


def clean_text(text: str) -> str:
    """Free text with ``^`` and control characters removed and blanks collapsed."""
    return " ".join(_CONTROL.sub(" ", text.replace("^", " ")).split())


def search_terms(text: str) -> list[str]:
    """The words of a free-text search (at most :data:`MAX_SEARCH_TERMS`, without repeats),
    each safe to use with :meth:`Query.like`; ``[]`` when nothing is left to search for."""
    terms: list[str] = []
    for word in clean_text(text).split():
        if word.casefold() not in (term.casefold() for term in terms):
            terms.append(word)
    return terms[:MAX_SEARCH_TERMS]


@dataclass(frozen=True)
class Query:
    """An immutable encoded-query builder: every method returns a new query with one more
    condition; ``str(query)`` is the encoded query (``""`` for none: every record)."""

    _conditions: tuple[str, ...] = ()
    _ordering: tuple[str, ...] = ()

    def _and(self, condition: str) -> Query:
        return replace(self, _conditions=(*self._conditions, condition))

    def eq(self, field: str, value: Value) -> Query:
        """``field`` equals ``value`` (``=``)."""
        return self._and(f"{_check_field(field)}={_exact(field, value)}")

    def ne(self, field: str, value: Value) -> Query:
        """``field`` differs from ``value`` (``!=``)."""
        return self._and(f"{_check_field(field)}!={_exact(field, value)}")

    def gt(self, field: str, value: Value) -> Query:
        """``field`` is after or above ``value`` (``>``)."""
        return self._and(f"{_check_field(field)}>{_exact(field, value)}")

    def ge(self, field: str, value: Value) -> Query:
        """``field`` is ``value`` or after it (``>=``)."""
        return self._and(f"{_check_field(field)}>={_exact(field, value)}")

    def lt(self, field: str, value: Value) -> Query:
        """``field`` is before or below ``value`` (``<``)."""
        return self._and(f"{_check_field(field)}<{_exact(field, value)}")

    def le(self, field: str, value: Value) -> Query:
        """``field`` is ``value`` or before it (``<=``)."""
        return self._and(f"{_check_field(field)}<={_exact(field, value)}")

    def like(self, field: str, text: str) -> Query:
        """``field`` contains ``text`` (``LIKE``, case-insensitive in ServiceNow); ``^`` and
        control characters are removed from ``text``."""
        return self._and(f"{_check_field(field)}LIKE{self._free_text(field, text)}")

    def starts_with(self, field: str, text: str) -> Query:
        """``field`` starts with ``text`` (``STARTSWITH``); cleaned like :meth:`like`."""
        return self._and(f"{_check_field(field)}STARTSWITH{self._free_text(field, text)}")

    def in_(self, field: str, values: Iterable[Value]) -> Query:
        """``field`` is one of ``values`` (``IN``); values containing ``,`` or ``^`` are
        refused, as is an empty list."""
        texts = [_exact(field, value) for value in values]
        if not texts:
            raise ValueError(f"in_({field!r}) needs at least one value")
        for text in texts:
            if "," in text:
                raise ValueError(
                    f"the value {text!r} for {field!r} contains ',', which separates the "
                    f"values of an IN condition"
                )
        return self._and(f"{_check_field(field)}IN{','.join(texts)}")

    def is_empty(self, field: str) -> Query:
        """``field`` is empty (``ISEMPTY``)."""
        return self._and(f"{_check_field(field)}ISEMPTY")

    def is_not_empty(self, field: str) -> Query:
        """``field`` is not empty (``ISNOTEMPTY``)."""
        return self._and(f"{_check_field(field)}ISNOTEMPTY")

    def or_eq(self, field: str, value: Value) -> Query:
        """The previous condition, or ``field`` equals ``value`` (``^OR``)."""
        if not self._conditions:
            raise ValueError("or_eq() needs a condition before it to be an alternative to")
        return self._and(f"OR{_check_field(field)}={_exact(field, value)}")

    def order_by(self, field: str, *, desc: bool = False) -> Query:
        """Sort by ``field`` (``ORDERBY`` / ``ORDERBYDESC``), after any earlier ordering."""
        keyword = "ORDERBYDESC" if desc else "ORDERBY"
        return replace(self, _ordering=(*self._ordering, f"{keyword}{_check_field(field)}"))

    def __str__(self) -> str:
        return "^".join((*self._conditions, *self._ordering))

    def __bool__(self) -> bool:
        return bool(self._conditions or self._ordering)

    @staticmethod
    def _free_text(field: str, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"the text for {field!r} must be str, not {type(text).__name__}")
        cleaned = clean_text(text)
        if not cleaned:
            raise ValueError(f"nothing is left to search {field!r} for in {text!r}")
        return cleaned
