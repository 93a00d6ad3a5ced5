"""Collecting what is wrong with an input before saying so: :class:`Problems` gathers
``(field, message)`` pairs and raises them together as one :class:`InvalidInput`, so that a
user sees every wrong field at once. The checks every rule shares (text, JSON types, the
size of an SSM command) are here too.

Everything here is pure: no database, no FastAPI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pcm_aws_script_runner.config import SSM_CONTENT_LIMIT_BYTES
from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_ops.errors import in_words  # re-exported: the run form's name for it

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
