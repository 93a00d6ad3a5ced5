"""The values a run gives a script version's parameters: checked against what the version
declares (:func:`validate_run_parameters`), and secret ones masked wherever they are shown
(:func:`masked`).

Everything here is pure: no database, no FastAPI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.input_problems import Problems, check_command_size
from pcm_aws_script_runner.services.parameters import ParameterSpec, value_problem

__all__ = ["MASK", "HasParameters", "masked", "validate_run_parameters"]

#: What a secret value is replaced with wherever it would be shown.
MASK = "********"


class HasParameters(Protocol):
    """A saved script version, as :func:`validate_run_parameters` needs it."""

    @property
    def number(self) -> int: ...

    @property
    def body(self) -> str: ...

    @property
    def parameters(self) -> list[dict[str, Any]]: ...


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
    problems = Problems()
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
        problem = value_problem(spec.type, value, spec.choices)
        if problem is not None:
            problems.add(f"parameters.{spec.name}", problem)
            continue
        values[spec.name] = value
    if not problems.items:
        check_command_size(problems, version.body, values, "parameters")
    problems.raise_if_any()
    return values


def masked(parameters: Sequence[Mapping[str, Any]], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the values of secret parameters replaced by :data:`MASK`."""
    secret = {spec["name"] for spec in parameters if spec.get("secret")}
    return {name: MASK if name in secret else value for name, value in values.items()}
