"""Collecting what is wrong with an input before saying so: :class:`Problems` gathers
``(field, message)`` pairs and raises them together as one :class:`InvalidInput`, so that a
user sees every wrong field at once. The checks every rule shares (text, JSON types, the
size of an SSM command) are here too.

Everything here is pure: no database, no FastAPI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pcm_aws_script_runner.config import SSM_CONTENT_LIMIT_BYTES
from pcm_aws_script_runner.services.errors import InvalidInput

__all__ = [
    "Problems",
    "check_command_size",
    "clean_text",
    "in_words",
    "json_type",
    "utf8_size",
]


class Problems:
    """Collects ``(field, message)`` pairs; :meth:`raise_if_any` raises them together."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append((field_name, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)


def clean_text(
    problems: Problems, field_name: str, value: Any, max_chars: int, *, required: bool = False
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        problems.add(field_name, f"must be text, not {json_type(value)}")
        return ""
    text = value.strip()
    if required and not text:
        problems.add(field_name, "must not be empty")
    elif len(text) > max_chars:
        problems.add(field_name, f"is {len(text)} characters long; at most {max_chars} allowed")
    elif "\x00" in text:
        problems.add(field_name, "must not contain NUL characters")
    return text


def json_type(value: Any) -> str:
    """How a JSON user names the type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _rendered_size(value: Any) -> int:
    if isinstance(value, bool):
        return len("true" if value else "false")
    return utf8_size(str(value))


def check_command_size(
    problems: Problems, body: str, values: Mapping[str, Any], field_name: str
) -> None:
    total = utf8_size(body) + sum(_rendered_size(value) for value in values.values())
    if total > SSM_CONTENT_LIMIT_BYTES:
        problems.add(
            field_name,
            f"the script and its parameter values come to {total:,} bytes; SSM accepts at "
            f"most {SSM_CONTENT_LIMIT_BYTES:,} bytes per command",
        )


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
    any other message is returned as it is."""
    message = message.removeprefix("Value error, ")
    for pattern, words in _PYDANTIC_WORDS:
        if pattern.search(message):
            return pattern.sub(words, message)
    return message
