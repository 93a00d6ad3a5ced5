"""Errors a user can meet. Each carries a message that says what is wrong and what to do.

The CLI prints these as one line (or one line per problem) and exits non-zero; it never
shows a traceback for them.

Plugins' services raise the :class:`ServiceError` kinds (or subclasses of their own): they
import nothing of FastAPI, and every caller shows them the same way. A route may simply let
one propagate: core answers with its ``status_code`` (the API as JSON,
``{"detail": message}``, or, for :class:`InvalidInput`, FastAPI's 422 shape naming each
field; pages as the error page), and the CLI prints its message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


class PcmOpsError(Exception):
    """Base class of the errors that are the user's to fix, not bugs."""


class ConfigError(PcmOpsError):
    """Settings that cannot be used. Holds every problem found, each naming its key."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            key, message = self.problems[0]
            return f"invalid setting {key}: {message}"
        lines = [f"{len(self.problems)} invalid settings:"]
        lines += [f"  {key}: {message}" for key, message in self.problems]
        return "\n".join(lines)


class ServiceError(PcmOpsError):
    """An error a service raises for its caller to show: the request cannot be done as
    asked. The HTTP answer is ``status_code`` (400 unless a subclass says otherwise)."""

    status_code: int = 400


class NotFoundError(ServiceError):
    """The object does not exist (or the caller may not see it): 404."""

    status_code = 404


class ForbiddenError(ServiceError):
    """The caller may not do this to this object: 403."""

    status_code = 403


class ConflictError(ServiceError):
    """The change contradicts the state of the object or of others (a duplicate name, an
    object in use): 409."""

    status_code = 409


class UpstreamError(ServiceError):
    """A system the service depends on failed or refused (AWS, ServiceNow): 502. The
    message names the system and what it said."""

    status_code = 502


class InvalidInput(ServiceError):
    """One or more values are not acceptable; each problem names its field: 422, in
    FastAPI's validation shape (``{"detail": [{"loc": ["body", field], "msg", "type"}]}``).

    ``problems`` holds ``(field, message)`` pairs; ``field`` is the path in the request
    body (``name``, ``parameters[1].default``).
    """

    status_code = 422

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("InvalidInput needs at least one problem")
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            field, message = self.problems[0]
            return f"{field}: {message}"
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  {field}: {message}" for field, message in self.problems]
        return "\n".join(lines)

    def for_field(self, field: str) -> list[str]:
        """The messages about ``field`` and its sub-fields (``parameters`` gives
        ``parameters[0].name`` too)."""
        return [
            message
            for name, message in self.problems
            if name == field or name.startswith((f"{field}[", f"{field}."))
        ]


#: Pydantic's messages (which name patterns and Python types) as an operator reads them.
_PYDANTIC_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"String should match pattern .*$"), "has characters that are not allowed here"),
    (
        re.compile(r"String should have at most (\d+) characters?$"),
        r"is too long: at most \1 characters",
    ),
    (
        re.compile(r"String should have at least (\d+) characters?$"),
        r"is too short: at least \1 characters",
    ),
    (
        re.compile(r"Input should be a valid integer.*$"),
        "must be a whole number, like 30 (digits only)",
    ),
    (re.compile(r"Input should be a valid (string|str)$"), "must be text"),
    (re.compile(r"Input should be a valid list$"), "must be a list"),
    (re.compile(r"Input should be greater than or equal to (\S+)$"), r"must be at least \1"),
    (re.compile(r"Input should be less than or equal to (\S+)$"), r"must be at most \1"),
    (
        re.compile(r"List should have at most (\d+) items?.*$"),
        r"has too many values: at most \1",
    ),
    (re.compile(r"Field required$"), "is required"),
    (re.compile(r"Extra inputs are not permitted$"), "is not a field of this form"),
)


def in_words(message: str) -> str:
    """``message`` as an operator reads it: pydantic's wording of a rule ("String should
    match pattern '^[A-Z0-9]{16,128}$'", "Input should be a valid integer"), also at the end
    of a longer message, becomes what is wrong in words; a leading "Value error, " goes;
    any other message is returned as it is.

    Pages and the CLI show pydantic's messages through it (the API keeps pydantic's own, which
    clients may match on)::

        >>> in_words("String should match pattern '^[A-Z0-9]{16,128}$'")
        'has characters that are not allowed here'
    """
    message = message.removeprefix("Value error, ")
    for pattern, words in _PYDANTIC_WORDS:
        if pattern.search(message):
            return pattern.sub(words, message)
    return message


def validation_problems(exc: Any) -> list[tuple[str, str]]:
    """The ``(field, message)`` pairs of a pydantic ``ValidationError`` (or FastAPI's
    ``RequestValidationError``), each message :func:`in_words`; the field is the error's
    location joined with dots, without a leading ``body``/``query``/``path`` part
    (``"form"`` when it has none). For a page that shows a model's problems next to their
    fields."""
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie") and len(loc) > 1:
            loc = loc[1:]
        problems.append((".".join(loc) or "form", in_words(str(error.get("msg", "")))))
    return problems


class PluginError(PcmOpsError):
    """A plugin could not be loaded, or (in strict mode) any plugin failure at all."""


class DatabaseError(PcmOpsError):
    """The database cannot be reached or is not in the state a command needs."""
