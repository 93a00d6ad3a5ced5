"""The parameters a script declares: their rules (:class:`ParameterSpec`, names, types,
defaults, choices) and reading them from the CLI's JSON file.

Everything here is pure: no database, no FastAPI. The values a run gives them are checked
by :mod:`~pcm_aws_script_runner.services.run_parameters`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.input_problems import Problems, clean_text, json_type

__all__ = [
    "MAX_PARAMETERS",
    "PARAMETER_KEYS",
    "PARAMETER_TYPES",
    "ParameterSpec",
    "clean_parameters",
    "parameters_from_json",
    "value_problem",
]

PARAMETER_TYPES = ("string", "integer", "boolean", "choice")
PARAMETER_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
PARAMETER_KEYS = ("name", "type", "description", "default", "required", "secret", "choices")

MAX_PARAMETERS = 50
MAX_PARAMETER_DESCRIPTION_CHARS = 500
MAX_CHOICES = 100
MAX_CHOICE_CHARS = 256
#: The longest string value (a default, a choice, or a value given at run time).
MAX_VALUE_CHARS = 4096
#: Integers are 64-bit signed, as SSM and every database store them.
INTEGER_RANGE = (-(2**63), 2**63 - 1)


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


def value_problem(spec_type: str, value: Any, choices: Sequence[str] = ()) -> str | None:
    """Why ``value`` is not a valid value of a parameter of ``spec_type``, or ``None``."""
    if spec_type in ("string", "choice"):
        if not isinstance(value, str):
            return f"must be text, not {json_type(value)}"
        if len(value) > MAX_VALUE_CHARS:
            return f"is {len(value)} characters long; at most {MAX_VALUE_CHARS} allowed"
        if "\x00" in value:
            return "must not contain NUL characters"
        if spec_type == "choice" and value not in choices:
            return f"{value!r} is not one of the choices: {', '.join(map(repr, choices))}"
        return None
    if spec_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, not {json_type(value)}"
        low, high = INTEGER_RANGE
        if not low <= value <= high:
            return "is outside the 64-bit integer range"
        return None
    if spec_type == "boolean":
        if not isinstance(value, bool):
            return f"must be true or false, not {json_type(value)}"
        return None
    raise ValueError(f"unknown parameter type {spec_type!r}")


def _flag(problems: Problems, where: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        problems.add(where, f"must be true or false, not {json_type(value)}")
        return False
    return value


def _clean_parameter(problems: Problems, index: int, raw: Any) -> ParameterSpec | None:
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
    description = clean_text(
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
            problem = value_problem(spec_type, default, choices)
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
    problems: Problems, where: str, spec_type: str | None, raw: Any
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


def clean_parameters(problems: Problems, value: Any) -> tuple[ParameterSpec, ...]:
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
