"""The values a run gives a script version's parameters: declared order, defaults, types,
and what a command may hold. Pure functions: no database, no application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.parameters import ParameterSpec
from pcm_aws_script_runner.services.run_parameters import validate_run_parameters


@dataclass
class Version:
    parameters: list[dict[str, Any]]
    body: str = "echo\n"
    number: int = 4
    extra: dict[str, Any] = field(default_factory=dict)


VERSION = Version(
    [
        ParameterSpec("service", "string", required=True).to_dict(),
        ParameterSpec("count", "integer", default=1).to_dict(),
        ParameterSpec("force", "boolean").to_dict(),
        ParameterSpec("mode", "choice", choices=("soft", "hard"), default="soft").to_dict(),
        ParameterSpec("token", "string", secret=True).to_dict(),
    ]
)


def run_problems(supplied: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as raised:
        validate_run_parameters(VERSION, supplied)
    return raised.value.problems


def test_supplied_values_and_defaults_come_back_in_declared_order():
    values = validate_run_parameters(VERSION, {"token": "s3cret", "service": "nginx"})

    assert list(values.items()) == [
        ("service", "nginx"),
        ("count", 1),
        ("mode", "soft"),
        ("token", "s3cret"),
    ]


def test_unknown_parameters_are_refused_listing_the_declared_ones():
    assert run_problems({"service": "x", "colour": "red"}) == [
        (
            "parameters.colour",
            "unknown parameter; version 4 of this script declares: "
            "service, count, force, mode, token",
        )
    ]


def test_a_missing_required_parameter_is_refused():
    assert run_problems({}) == [("parameters.service", "is required (string); give a value")]


def test_null_counts_as_not_given():
    assert run_problems({"service": None}) == [
        ("parameters.service", "is required (string); give a value")
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("count", "3", "must be an integer, not text"),
        ("count", True, "must be an integer, not a boolean"),
        ("force", "yes", "must be true or false, not text"),
        ("mode", "medium", "'medium' is not one of the choices: 'soft', 'hard'"),
        ("service", 5, "must be text, not an integer"),
    ],
)
def test_values_of_the_wrong_type_are_refused(name, value, message):
    supplied = {"service": "nginx", name: value}

    assert run_problems(supplied) == [(f"parameters.{name}", message)]


def test_every_problem_with_the_values_is_reported_at_once():
    assert [where for where, _ in run_problems({"count": "x", "nope": 1})] == [
        "parameters.nope",
        "parameters.service",
        "parameters.count",
    ]


def test_values_that_make_the_command_too_large_are_refused():
    version = Version(
        [ParameterSpec(f"p{i}", "string").to_dict() for i in range(17)], body="x" * 100
    )

    with pytest.raises(InvalidInput) as raised:
        validate_run_parameters(version, {f"p{i}": "v" * 4000 for i in range(17)})

    [(where, message)] = raised.value.problems
    assert where == "parameters"
    assert "SSM accepts at most 65,536 bytes" in message
