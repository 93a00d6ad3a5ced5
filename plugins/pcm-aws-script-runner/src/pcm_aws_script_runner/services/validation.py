"""The rules a script and its parameters must follow, the content hash, and checking the
parameter values of a run.

Everything here is pure: no database, no FastAPI. The API, the pages and the CLI all go
through :func:`clean_script` before saving, and runs go through
:func:`validate_run_parameters`, so the rules and their messages are the same everywhere.
Problems are collected, not raised one at a time: :class:`InvalidInput` lists every field
that is wrong, each with what to do.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pcm_aws_script_runner.config import SSM_CONTENT_LIMIT_BYTES
from pcm_aws_script_runner.services.errors import InvalidInput

__all__ = [
    "LANGUAGES",
    "PARAMETER_TYPES",
    "CleanScript",
    "ParameterSpec",
    "ScriptDraft",
    "clean_comment",
    "clean_script",
    "content_sha256",
    "masked",
    "normalize_body",
    "parameters_from_json",
    "validate_run_parameters",
]

#: Script languages, and the SSM document each runs with.
LANGUAGES: dict[str, str] = {
    "shell": "AWS-RunShellScript",
    "powershell": "AWS-RunPowerShellScript",
}
PARAMETER_TYPES = ("string", "integer", "boolean", "choice")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
PARAMETER_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:/-]{0,49}$")

MAX_DESCRIPTION_CHARS = 1000
MAX_TAGS = 20
MAX_PARAMETERS = 50
MAX_PARAMETER_DESCRIPTION_CHARS = 500
MAX_CHOICES = 100
MAX_CHOICE_CHARS = 256
#: The longest string value (a default, a choice, or a value given at run time).
MAX_VALUE_CHARS = 4096
MAX_COMMENT_CHARS = 500
#: Integers are 64-bit signed, as SSM and every database store them.
INTEGER_RANGE = (-(2**63), 2**63 - 1)

PARAMETER_KEYS = ("name", "type", "description", "default", "required", "secret", "choices")

#: What a secret value is replaced with wherever it would be shown.
MASK = "********"


@dataclass(frozen=True)
class ParameterSpec:
    """A declared parameter of a script, after validation.

    Attributes:
        name: matches ``^[A-Za-z][A-Za-z0-9_]{0,63}$``; unique within the script.
        type: ``string``, ``integer``, ``boolean`` or ``choice``.
        description: what it is for, shown in the run form.
        default: used when a run gives no value; ``None`` for none. Of the parameter's type
            (a choice's default is one of its choices). Secret parameters have none.
        required: a run must end up with a value (given, or the default).
        secret: the value is masked wherever it is shown (audit log, history, checks).
        choices: the allowed values of a ``choice`` parameter; empty for other types.
    """

    name: str
    type: str
    description: str = ""
    default: str | int | bool | None = None
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Every key, in a fixed order: how versions store it and how it is hashed."""
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "default": self.default,
            "required": self.required,
            "secret": self.secret,
            "choices": list(self.choices),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParameterSpec:
        """Rebuild a stored (already validated) parameter."""
        return cls(
            name=data["name"],
            type=data["type"],
            description=data.get("description", ""),
            default=data.get("default"),
            required=bool(data.get("required", False)),
            secret=bool(data.get("secret", False)),
            choices=tuple(data.get("choices") or ()),
        )


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


class HasParameters(Protocol):
    """A saved script version, as :func:`validate_run_parameters` needs it."""

    @property
    def number(self) -> int: ...

    @property
    def body(self) -> str: ...

    @property
    def parameters(self) -> list[dict[str, Any]]: ...


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


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


class _Problems:
    """Collects ``(field, message)`` pairs; :meth:`raise_if_any` raises them together."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append((field_name, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)


def _clean_text(
    problems: _Problems, field_name: str, value: Any, max_chars: int, *, required: bool = False
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        problems.add(field_name, f"must be text, not {_json_type(value)}")
        return ""
    text = value.strip()
    if required and not text:
        problems.add(field_name, "must not be empty")
    elif len(text) > max_chars:
        problems.add(field_name, f"is {len(text)} characters long; at most {max_chars} allowed")
    elif "\x00" in text:
        problems.add(field_name, "must not contain NUL characters")
    return text


def _clean_name(problems: _Problems, value: Any) -> str:
    if not isinstance(value, str):
        problems.add("name", f"must be text, not {_json_type(value)}")
        return ""
    name = value.strip()
    if not NAME_PATTERN.match(name):
        problems.add(
            "name",
            f"{name!r} is not a valid script name: 1 to 100 letters, digits, spaces, dots, "
            "dashes or underscores, starting with a letter or digit",
        )
    return name


def _clean_language(problems: _Problems, value: Any) -> str:
    if value not in LANGUAGES:
        problems.add(
            "language", f"{value!r} is not a script language; use one of: {', '.join(LANGUAGES)}"
        )
        return "shell"
    return str(value)


def _clean_body(problems: _Problems, value: Any, max_bytes: int) -> str:
    if not isinstance(value, str):
        problems.add("body", f"must be text, not {_json_type(value)}")
        return ""
    body = normalize_body(value)
    size = _utf8_size(body)
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


def _clean_tags(problems: _Problems, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        problems.add("tags", "must be a list of tags")
        return ()
    tags: list[str] = []
    for index, raw in enumerate(value):
        where = f"tags[{index}]"
        if not isinstance(raw, str):
            problems.add(where, f"must be text, not {_json_type(raw)}")
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


def _value_problem(spec_type: str, value: Any, choices: Sequence[str] = ()) -> str | None:
    """Why ``value`` is not a valid value of a parameter of ``spec_type``, or ``None``."""
    if spec_type in ("string", "choice"):
        if not isinstance(value, str):
            return f"must be text, not {_json_type(value)}"
        if len(value) > MAX_VALUE_CHARS:
            return f"is {len(value)} characters long; at most {MAX_VALUE_CHARS} allowed"
        if "\x00" in value:
            return "must not contain NUL characters"
        if spec_type == "choice" and value not in choices:
            return f"{value!r} is not one of the choices: {', '.join(map(repr, choices))}"
        return None
    if spec_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, not {_json_type(value)}"
        low, high = INTEGER_RANGE
        if not low <= value <= high:
            return "is outside the 64-bit integer range"
        return None
    if spec_type == "boolean":
        if not isinstance(value, bool):
            return f"must be true or false, not {_json_type(value)}"
        return None
    raise ValueError(f"unknown parameter type {spec_type!r}")


def _json_type(value: Any) -> str:
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


def _flag(problems: _Problems, where: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        problems.add(where, f"must be true or false, not {_json_type(value)}")
        return False
    return value


def _clean_parameter(problems: _Problems, index: int, raw: Any) -> ParameterSpec | None:
    where = f"parameters[{index}]"
    if not isinstance(raw, Mapping):
        problems.add(where, f"must be an object with the keys {', '.join(PARAMETER_KEYS)}")
        return None
    unknown = sorted(str(key) for key in raw if key not in PARAMETER_KEYS)
    if unknown:
        problems.add(
            where, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(PARAMETER_KEYS)}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not PARAMETER_NAME_PATTERN.match(name):
        problems.add(
            f"{where}.name",
            f"{name!r} is not a valid parameter name: a letter, then up to 63 letters, "
            "digits or underscores",
        )
        name = name if isinstance(name, str) else ""
    spec_type = raw.get("type", "string")
    if spec_type not in PARAMETER_TYPES:
        problems.add(
            f"{where}.type",
            f"{spec_type!r} is not a parameter type; use one of: {', '.join(PARAMETER_TYPES)}",
        )
        spec_type = None
    description = _clean_text(
        problems, f"{where}.description", raw.get("description"), MAX_PARAMETER_DESCRIPTION_CHARS
    )
    required = _flag(problems, f"{where}.required", raw.get("required"))
    secret = _flag(problems, f"{where}.secret", raw.get("secret"))
    choices = _clean_choices(problems, where, spec_type, raw.get("choices"))
    default = raw.get("default")
    if default is not None and spec_type is not None:
        if secret:
            problems.add(
                f"{where}.default",
                "a secret parameter cannot have a default: defaults are stored and shown in "
                "the script's history; give the value when running",
            )
        else:
            problem = _value_problem(spec_type, default, choices)
            if problem is not None:
                problems.add(f"{where}.default", f"the default {problem}")
    if spec_type is None:
        return None
    return ParameterSpec(
        name=name,
        type=spec_type,
        description=description,
        default=default,
        required=required,
        secret=secret,
        choices=choices,
    )


def _clean_choices(
    problems: _Problems, where: str, spec_type: str | None, raw: Any
) -> tuple[str, ...]:
    if spec_type != "choice":
        if raw:
            problems.add(f"{where}.choices", "only parameters of type 'choice' have choices")
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence) or not raw:
        problems.add(f"{where}.choices", "a 'choice' parameter needs a list of choices")
        return ()
    if len(raw) > MAX_CHOICES:
        problems.add(f"{where}.choices", f"{len(raw)} choices given; at most {MAX_CHOICES}")
    choices: list[str] = []
    for position, choice in enumerate(raw):
        if not isinstance(choice, str) or not choice.strip():
            problems.add(f"{where}.choices[{position}]", "must be non-empty text")
        elif len(choice) > MAX_CHOICE_CHARS:
            problems.add(
                f"{where}.choices[{position}]", f"is longer than {MAX_CHOICE_CHARS} characters"
            )
        elif choice in choices:
            problems.add(f"{where}.choices[{position}]", f"{choice!r} is listed twice")
        else:
            choices.append(choice)
    return tuple(choices)


def _clean_parameters(problems: _Problems, value: Any) -> tuple[ParameterSpec, ...]:
    if value is None:
        return ()
    if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
        problems.add("parameters", "must be a list of parameter objects")
        return ()
    if len(value) > MAX_PARAMETERS:
        problems.add("parameters", f"{len(value)} parameters given; at most {MAX_PARAMETERS}")
    specs: list[ParameterSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(value):
        spec = _clean_parameter(problems, index, raw)
        if spec is None or not spec.name:
            continue
        if spec.name in seen:
            problems.add(
                f"parameters[{index}].name",
                f"{spec.name!r} is already the name of parameters[{seen[spec.name]}]; "
                "parameter names must be unique",
            )
            continue
        seen[spec.name] = index
        specs.append(spec)
    return tuple(specs)


def clean_script(
    draft: ScriptDraft, *, max_body_bytes: int = SSM_CONTENT_LIMIT_BYTES
) -> CleanScript:
    """Check ``draft`` against every rule; return it cleaned, or raise :class:`InvalidInput`
    listing every problem, each naming its field.

    Cleaning trims names, descriptions and tags, lower-cases and sorts tags (dropping
    duplicates), and turns the body's line endings into LF (:func:`normalize_body`).
    """
    problems = _Problems()
    name = _clean_name(problems, draft.name)
    language = _clean_language(problems, draft.language)
    body = _clean_body(problems, draft.body, max_body_bytes)
    description = _clean_text(problems, "description", draft.description, MAX_DESCRIPTION_CHARS)
    parameters = _clean_parameters(problems, draft.parameters)
    tags = _clean_tags(problems, draft.tags)
    if not problems.items:
        defaults = {spec.name: spec.default for spec in parameters if spec.default is not None}
        _check_ssm_size(problems, body, defaults, "body")
    problems.raise_if_any()
    return CleanScript(name, language, body, description, parameters, tags)


def clean_comment(value: Any) -> str:
    """A version's comment: trimmed text of at most :data:`MAX_COMMENT_CHARS` characters."""
    problems = _Problems()
    comment = _clean_text(problems, "comment", value, MAX_COMMENT_CHARS)
    problems.raise_if_any()
    return comment


def _rendered_size(value: Any) -> int:
    if isinstance(value, bool):
        return len("true" if value else "false")
    return _utf8_size(str(value))


def _check_ssm_size(
    problems: _Problems, body: str, values: Mapping[str, Any], field_name: str
) -> None:
    total = _utf8_size(body) + sum(_rendered_size(value) for value in values.values())
    if total > SSM_CONTENT_LIMIT_BYTES:
        problems.add(
            field_name,
            f"the script and its parameter values come to {total:,} bytes; SSM accepts at "
            f"most {SSM_CONTENT_LIMIT_BYTES:,} bytes per command",
        )


def parameters_from_json(text: str) -> list[Any]:
    """Parameters from a JSON document (the CLI's ``--parameters`` file): a list of objects.

    :raises InvalidInput: the text is not JSON, or not a list.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput([("parameters", f"is not valid JSON: {exc}")]) from None
    if not isinstance(value, list):
        raise InvalidInput([("parameters", "must be a JSON list of parameter objects")])
    return value


def validate_run_parameters(version: HasParameters, supplied: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameter values given for a run of ``version``; return the values to use.

    Every parameter ``version`` declares gets, in declared order: the value supplied, else
    its default, else nothing (it is left out). A supplied ``None`` counts as not supplied.

    :param version: the script version that would run (anything with ``number``, ``body``
        and the stored ``parameters``).
    :param supplied: parameter name → value, as JSON gives them: text for ``string`` and
        ``choice``, an integer for ``integer``, ``true``/``false`` for ``boolean``.
    :return: parameter name → value, in declared order.
    :raises InvalidInput: listing every problem, each naming ``parameters.<name>``: unknown
        parameters, required ones without a value, values of the wrong type, choices not
        offered, and values that make the command larger than SSM accepts.
    """
    problems = _Problems()
    if not isinstance(supplied, Mapping):
        raise InvalidInput([("parameters", "must be an object of parameter name → value")])
    specs = [ParameterSpec.from_dict(data) for data in version.parameters]
    declared = {spec.name: spec for spec in specs}
    for name in supplied:
        if name not in declared:
            known = ", ".join(declared) or "none"
            problems.add(
                f"parameters.{name}",
                f"unknown parameter; version {version.number} of this script declares: {known}",
            )
    values: dict[str, Any] = {}
    for spec in specs:
        value = supplied.get(spec.name)
        if value is None:
            value = spec.default
        if value is None:
            if spec.required:
                problems.add(f"parameters.{spec.name}", f"is required ({spec.type}); give a value")
            continue
        problem = _value_problem(spec.type, value, spec.choices)
        if problem is not None:
            problems.add(f"parameters.{spec.name}", problem)
            continue
        values[spec.name] = value
    if not problems.items:
        _check_ssm_size(problems, version.body, values, "parameters")
    problems.raise_if_any()
    return values


def masked(parameters: Sequence[Mapping[str, Any]], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the values of secret parameters replaced by :data:`MASK`."""
    secret = {spec["name"] for spec in parameters if spec.get("secret")}
    return {name: MASK if name in secret else value for name, value in values.items()}
