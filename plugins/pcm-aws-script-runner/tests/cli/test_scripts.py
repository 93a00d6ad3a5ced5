"""``pcm-ops script-runner scripts ...``: the library from the command line, on the database
directly, audited as ``cli:<user>``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pcm_ops.cli.session import cli_actor
from pcm_ops.testing.fixtures import CliOutcome


@pytest.fixture
def run(pcm_cli: Any) -> Any:
    """``run("script-runner", "scripts", "list")``: ``pcm-ops`` as a user types it, on the
    test's database (migrated first), with only this plugin enabled."""
    return pcm_cli("aws-script-runner")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "v1.sh").write_text('#!/bin/bash\ndf -h "$path"\n')
    (tmp_path / "v2.sh").write_text('#!/bin/bash\ndf -h --total "$path"\n')
    (tmp_path / "params.json").write_text(
        json.dumps([{"name": "path", "type": "string", "default": "/", "required": True}])
    )
    (tmp_path / "bad-params.json").write_text(json.dumps([{"name": "2path"}]))
    return tmp_path


def create(run, files: Path, *extra: str) -> CliOutcome:
    return run(
        "script-runner",
        "scripts",
        "create",
        "--file",
        str(files / "v1.sh"),
        "--name",
        "disk-usage",
        "--language",
        "shell",
        "--tag",
        "Disks",
        "--parameters",
        str(files / "params.json"),
        "--comment",
        "first",
        *extra,
    )


def test_create_list_and_show(run, files):
    created = create(run, files)
    listed = run("script-runner", "scripts", "list")
    shown = json.loads(run("script-runner", "scripts", "show", "DISK-USAGE", "--json").stdout)

    assert created.exit_code == 0, created.stderr
    assert created.stdout.startswith("created script 'disk-usage' (id 1), version 1, sha256 ")
    assert "disk-usage" in listed.stdout
    assert "[disks]" in listed.stdout
    assert shown["version"]["body"] == '#!/bin/bash\ndf -h "$path"\n'
    assert shown["version"]["created_by"] == cli_actor()
    assert shown["version"]["parameters"][0]["default"] == "/"


def test_update_saves_a_new_version_and_diff_shows_it(run, files):
    create(run, files)

    updated = run(
        "script-runner",
        "scripts",
        "update",
        "disk-usage",
        "--file",
        str(files / "v2.sh"),
        "--comment",
        "totals",
    )
    retagged = run("script-runner", "scripts", "update", "disk-usage", "--clear-tags")
    diff = run("script-runner", "scripts", "diff", "disk-usage", "--from", "1", "--to", "2")
    versions = run("script-runner", "scripts", "versions", "disk-usage")

    assert updated.stdout.startswith("saved script 'disk-usage' as version 2 (content changed)")
    assert "as version 3 (content unchanged)" in retagged.stdout
    assert '-df -h "$path"' in diff.stdout.splitlines()
    assert '+df -h --total "$path"' in diff.stdout.splitlines()
    assert [line.split()[0] for line in versions.stdout.splitlines()] == ["v3", "v2", "v1"]


def test_archive_hides_the_script_and_blocks_edits(run, files):
    create(run, files)

    archived = run("script-runner", "scripts", "archive", "disk-usage")
    listed = run("script-runner", "scripts", "list")
    with_archived = run("script-runner", "scripts", "list", "--archived", "--json")
    edit = run("script-runner", "scripts", "update", "disk-usage", "--description", "x")
    unarchived = run("script-runner", "scripts", "unarchive", "disk-usage")

    assert archived.stdout == "archived script 'disk-usage'\n"
    assert "disk-usage" not in listed.stdout
    assert [s["archived"] for s in json.loads(with_archived.stdout)] == [True]
    assert edit.exit_code == 1
    assert edit.stderr == (
        "Error: script 'disk-usage' is archived; unarchive it before editing it\n"
    )
    assert unarchived.exit_code == 0


def test_changes_are_audited_as_the_cli_user(run, files):
    create(run, files)
    run("script-runner", "scripts", "update", "disk-usage", "--file", str(files / "v2.sh"))

    tail = run("audit", "tail")

    lines = [line for line in tail.stdout.splitlines() if "aws-script-runner" in line]
    assert len(lines) == 2
    assert all(cli_actor() in line for line in lines)
    assert "aws-script-runner.script.create script:1" in lines[0]
    assert "aws-script-runner.script.update script:1" in lines[1]


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
def test_invalid_parameters_are_refused_naming_the_field(run, files):
    outcome = run(
        "script-runner",
        "scripts",
        "create",
        "--file",
        str(files / "v1.sh"),
        "--name",
        "x",
        "--language",
        "shell",
        "--parameters",
        str(files / "bad-params.json"),
    )

    assert outcome.exit_code == 1
    assert outcome.stderr.startswith("Error: parameters[0].name: '2path' is not a valid")
    assert "Traceback" not in outcome.stderr


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
def test_a_duplicate_name_and_an_unknown_script_are_clear_errors(run, files):
    create(run, files)

    duplicate = create(run, files)
    unknown = run("script-runner", "scripts", "show", "nope")

    assert duplicate.exit_code == 1
    assert "a script named 'disk-usage' already exists" in duplicate.stderr
    assert unknown.stderr == (
        "Error: there is no script named 'nope'; `pcm-ops script-runner scripts list` shows them\n"
    )


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
def test_a_missing_file_is_a_clear_error(run, files):
    outcome = run(
        "script-runner",
        "scripts",
        "create",
        "--file",
        str(files / "missing.sh"),
        "--name",
        "x",
        "--language",
        "shell",
    )

    assert outcome.exit_code == 1
    assert "cannot read the script file" in outcome.stderr
