"""The rules a script must follow before it is saved, and the content hash of a version.

Everything here is pure: no database, no FastAPI. The API, the pages and the CLI all go
through :func:`clean_script` before saving, so the rules and their messages are the same
everywhere. Problems are collected, not raised one at a time: :class:`InvalidInput` lists
every field that is wrong, each with what to do. A script's parameters follow the rules of
:mod:`~pcm_aws_script_runner.services.parameters`; the values a run gives them, those of
:mod:`~pcm_aws_script_runner.services.run_parameters`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pcm_aws_script_runner.config import SSM_CONTENT_LIMIT_BYTES
from pcm_aws_script_runner.services.input_problems import (
    Problems,
    check_command_size,
    clean_text,
    json_type,
    utf8_size,
)
from pcm_aws_script_runner.services.parameters import ParameterSpec, clean_parameters

__all__ = [
    "LANGUAGES",
    "CleanScript",
    "ScriptDraft",
    "clean_comment",
    "clean_script",
    "content_sha256",
    "normalize_body",
]

#: Script languages, and the SSM document each runs with.
LANGUAGES: dict[str, str] = {
    "shell": "AWS-RunShellScript",
    "powershell": "AWS-RunPowerShellScript",
}

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:/-]{0,49}$")

MAX_DESCRIPTION_CHARS = 1000
MAX_TAGS = 20
MAX_COMMENT_CHARS = 500


@dataclass
class ScriptDraft:
    """What someone wants to save, as received (from JSON, a form or the CLI): not checked.

    ``parameters`` holds one mapping per parameter with the keys of :class:`ParameterSpec`.
    """

    name: Any
    language: Any
    body: Any
    description: Any = ""
    parameters: Any = field(default_factory=list)
    tags: Any = field(default_factory=list)


@dataclass(frozen=True)
class CleanScript:
    """A script that follows every rule, ready to save."""

    name: str
    language: str
    body: str
    description: str
    parameters: tuple[ParameterSpec, ...]
    tags: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return content_sha256(self.language, self.body, self.parameters)


def normalize_body(body: str) -> str:
    """Line endings as LF: browsers send a textarea's lines with CRLF, and a shell script
    with CR at the ends of its lines fails on Linux. PowerShell reads LF as well."""
    return body.replace("\r\n", "\n").replace("\r", "\n")


def content_sha256(language: str, body: str, parameters: Iterable[ParameterSpec]) -> str:
    """The hash that identifies what a version runs.

    SHA-256 of the UTF-8 bytes of the JSON object ``{"body", "language", "parameters"}``,
    with keys sorted, no whitespace (``separators=(",", ":")``) and non-ASCII characters as
    they are (``ensure_ascii=False``); ``parameters`` is the list of
    :meth:`ParameterSpec.to_dict` in declared order. Name, description and tags are not
    part of it: renaming a script does not change what it runs.
    """
    canonical = json.dumps(
        {
            "body": body,
            "language": language,
            "parameters": [parameter.to_dict() for parameter in parameters],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _clean_name(problems: Problems, value: Any) -> str:
    if not isinstance(value, str):
        problems.add("name", f"must be text, not {json_type(value)}")
        return ""
    name = value.strip()
    if not NAME_PATTERN.match(name):
        problems.add(
            "name",
            f"{name!r} is not a valid script name: 1 to 100 letters, digits, spaces, dots, "
            "dashes or underscores, starting with a letter or digit",
        )
    return name


def _clean_language(problems: Problems, value: Any) -> str:
    if value not in LANGUAGES:
        problems.add(
            "language", f"{value!r} is not a script language; use one of: {', '.join(LANGUAGES)}"
        )
        return "shell"
    return str(value)


def _clean_body(problems: Problems, value: Any, max_bytes: int) -> str:
    if not isinstance(value, str):
        problems.add("body", f"must be text, not {json_type(value)}")
        return ""
    body = normalize_body(value)
    size = utf8_size(body)
    if not body.strip():
        problems.add("body", "must not be empty")
    elif size > max_bytes:
        problems.add(
            "body",
            f"is {size:,} bytes (UTF-8); at most {max_bytes:,} allowed (SSM refuses documents "
            "larger than 64 KiB, parameter values included)",
        )
    elif "\x00" in body:
        problems.add("body", "must not contain NUL characters")
    return body


def _clean_tags(problems: Problems, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        problems.add("tags", "must be a list of tags")
        return ()
    tags: list[str] = []
    for index, raw in enumerate(value):
        where = f"tags[{index}]"
        if not isinstance(raw, str):
            problems.add(where, f"must be text, not {json_type(raw)}")
            continue
        tag = raw.strip().lower()
        if not TAG_PATTERN.match(tag):
            problems.add(
                where,
                f"{raw!r} is not a valid tag: 1 to 50 lowercase letters, digits or "
                "'_.:/-', starting with a letter or digit",
            )
        elif tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        problems.add("tags", f"{len(tags)} tags given; at most {MAX_TAGS} allowed")
    return tuple(sorted(tags))


def clean_script(
    draft: ScriptDraft, *, max_body_bytes: int = SSM_CONTENT_LIMIT_BYTES
) -> CleanScript:
    """Check ``draft`` against every rule; return it cleaned, or raise :class:`InvalidInput`
    listing every problem, each naming its field.

    Cleaning trims names, descriptions and tags, lower-cases and sorts tags (dropping
    duplicates), and turns the body's line endings into LF (:func:`normalize_body`).
    """
    problems = Problems()
    name = _clean_name(problems, draft.name)
    language = _clean_language(problems, draft.language)
    body = _clean_body(problems, draft.body, max_body_bytes)
    description = clean_text(problems, "description", draft.description, MAX_DESCRIPTION_CHARS)
    parameters = clean_parameters(problems, draft.parameters)
    tags = _clean_tags(problems, draft.tags)
    if not problems.items:
        defaults = {spec.name: spec.default for spec in parameters if spec.default is not None}
        check_command_size(problems, body, defaults, "body")
    problems.raise_if_any()
    return CleanScript(name, language, body, description, parameters, tags)


def clean_comment(value: Any) -> str:
    """A version's comment: trimmed text of at most :data:`MAX_COMMENT_CHARS` characters."""
    problems = Problems()
    comment = clean_text(problems, "comment", value, MAX_COMMENT_CHARS)
    problems.raise_if_any()
    return comment
