"""The rules for scripts and the parameters they declare, and the content hash. Pure
functions: no database, no application. (The values a run gives them: test_run_parameters.py.)"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.parameters import ParameterSpec
from pcm_aws_script_runner.services.validation import ScriptDraft, clean_script, content_sha256


def draft(**overrides: Any) -> ScriptDraft:
    values: dict[str, Any] = {
        "name": "restart-nginx",
        "language": "shell",
        "body": "systemctl restart nginx\n",
        "description": "",
        "parameters": [],
        "tags": [],
    }
    values.update(overrides)
    return ScriptDraft(**values)


def problems(**overrides: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as raised:
        clean_script(draft(**overrides))
    return raised.value.problems


def fields(**overrides: Any) -> list[str]:
    return [where for where, _ in problems(**overrides)]


# -- scripts ----------------------------------------------------------------------------------


def test_a_valid_script_is_cleaned():
    clean = clean_script(
        draft(name="  Restart nginx ", body="a\r\nb\r\n", tags=["Web", "linux", "web"])
    )

    assert (clean.name, clean.body, clean.tags) == ("Restart nginx", "a\nb\n", ("linux", "web"))


@pytest.mark.parametrize("name", ["", "  ", "-leading-dash", "x" * 101, "semi;colon", 7])
def test_bad_names_are_refused(name):
    assert fields(name=name) == ["name"]


def test_an_unknown_language_is_refused_naming_the_choices():
    assert problems(language="bash") == [
        ("language", "'bash' is not a script language; use one of: shell, powershell")
    ]


def test_an_empty_body_is_refused():
    assert problems(body=" \n\t") == [("body", "must not be empty")]


def test_a_body_over_64_kib_is_refused():
    [(where, message)] = problems(body="x" * (64 * 1024 + 1))

    assert where == "body"
    assert "65,537 bytes (UTF-8); at most 65,536 allowed" in message


def test_the_body_limit_counts_utf8_bytes_not_characters():
    assert fields(body="é" * (32 * 1024 + 1)) == ["body"]


def test_a_body_of_exactly_64_kib_is_accepted():
    assert clean_script(draft(body="x" * (64 * 1024))).body


def test_a_lower_configured_limit_applies():
    with pytest.raises(InvalidInput, match="at most 100 allowed"):
        clean_script(draft(body="x" * 101), max_body_bytes=100)


def test_tags_must_be_simple_words():
    assert fields(tags=["ok", "not ok", ""]) == ["tags[1]", "tags[2]"]


def test_too_many_tags_are_refused():
    assert fields(tags=[f"t{i}" for i in range(21)]) == ["tags"]


def test_every_problem_is_reported_at_once():
    assert fields(name="", language="bash", body="") == ["name", "language", "body"]


# -- parameters -------------------------------------------------------------------------------


def parameter(**overrides: Any) -> dict[str, Any]:
    return {"name": "service", "type": "string", **overrides}


@pytest.mark.parametrize("name", ["1st", "_x", "with-dash", "a" * 65, "", None])
def test_bad_parameter_names_are_refused(name):
    assert fields(parameters=[parameter(name=name)]) == ["parameters[0].name"]


def test_a_64_character_parameter_name_is_accepted():
    assert clean_script(draft(parameters=[parameter(name="a" * 64)])).parameters


def test_duplicate_parameter_names_are_refused():
    [(where, message)] = problems(parameters=[parameter(), parameter()])

    assert where == "parameters[1].name"
    assert "already the name of parameters[0]" in message


def test_an_unknown_parameter_type_is_refused():
    assert fields(parameters=[parameter(type="float")]) == ["parameters[0].type"]


@pytest.mark.parametrize(
    ("kind", "default"),
    [("string", 5), ("integer", "5"), ("integer", True), ("integer", 1.5), ("boolean", "true")],
)
def test_a_default_must_match_the_type(kind, default):
    [(where, message)] = problems(parameters=[parameter(type=kind, default=default)])

    assert where == "parameters[0].default"
    assert message.startswith("the default must be")


@pytest.mark.parametrize(
    ("kind", "default"), [("string", "nginx"), ("integer", -3), ("boolean", False)]
)
def test_defaults_of_the_right_type_are_accepted(kind, default):
    [spec] = clean_script(draft(parameters=[parameter(type=kind, default=default)])).parameters

    assert spec.default == default


def test_a_choice_default_must_be_one_of_the_choices():
    [(where, message)] = problems(
        parameters=[parameter(type="choice", choices=["soft", "hard"], default="medium")]
    )

    assert where == "parameters[0].default"
    assert "'medium' is not one of the choices: 'soft', 'hard'" in message


def test_a_choice_parameter_needs_choices():
    assert fields(parameters=[parameter(type="choice")]) == ["parameters[0].choices"]


def test_only_choice_parameters_have_choices():
    assert fields(parameters=[parameter(choices=["a"])]) == ["parameters[0].choices"]


def test_duplicate_choices_are_refused():
    assert fields(parameters=[parameter(type="choice", choices=["a", "a"])]) == [
        "parameters[0].choices[1]"
    ]


def test_a_secret_parameter_cannot_have_a_default():
    [(where, message)] = problems(parameters=[parameter(secret=True, default="hunter2")])

    assert where == "parameters[0].default"
    assert message.startswith("a secret parameter cannot have a default")
    assert "hunter2" not in message


def test_unknown_parameter_keys_are_refused():
    assert fields(parameters=[parameter(hidden=True)]) == ["parameters[0]"]


def test_flags_must_be_booleans():
    assert fields(parameters=[parameter(required="yes")]) == ["parameters[0].required"]


def test_more_than_50_parameters_are_refused():
    many = [parameter(name=f"p{i}") for i in range(51)]

    assert fields(parameters=many) == ["parameters"]


def test_body_and_defaults_together_must_fit_in_an_ssm_command():
    big_defaults = [parameter(name=f"p{i}", default="x" * 4096) for i in range(16)]

    assert fields(body="y" * 1000, parameters=big_defaults) == ["body"]


# -- the content hash -------------------------------------------------------------------------


def test_the_hash_is_sha256_of_the_documented_canonical_json():
    spec = ParameterSpec("service", "string", default="nginx")
    canonical = json.dumps(
        {"body": "echo ü\n", "language": "shell", "parameters": [spec.to_dict()]},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )

    assert (
        content_sha256("shell", "echo ü\n", [spec])
        == hashlib.sha256(canonical.encode()).hexdigest()
    )


def test_omitted_parameter_keys_hash_like_their_defaults():
    short = clean_script(draft(parameters=[{"name": "a"}]))
    explicit = clean_script(
        draft(
            parameters=[
                {
                    "name": "a",
                    "type": "string",
                    "description": "",
                    "default": None,
                    "required": False,
                    "secret": False,
                    "choices": [],
                }
            ]
        )
    )

    assert short.sha256 == explicit.sha256


def test_crlf_and_lf_bodies_hash_the_same():
    assert clean_script(draft(body="a\r\nb\n")).sha256 == clean_script(draft(body="a\nb\n")).sha256


def test_name_description_and_tags_do_not_change_the_hash():
    base = clean_script(draft())
    renamed = clean_script(draft(name="other", description="new words", tags=["x"]))

    assert base.sha256 == renamed.sha256


@pytest.mark.parametrize(
    "change",
    [
        {"body": "systemctl reload nginx\n"},
        {"language": "powershell"},
        {"parameters": [{"name": "service"}]},
    ],
)
def test_language_body_and_parameters_change_the_hash(change):
    assert clean_script(draft(**change)).sha256 != clean_script(draft()).sha256
