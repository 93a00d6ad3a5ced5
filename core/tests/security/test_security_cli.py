"""``pcm-ops users|tokens|audit|secrets``: the first admin, tokens shown once, audit tail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from pcm_ops.cli.main import main


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    for name in [n for n in __import__("os").environ if n.startswith("PCM_")]:
        if not name.startswith("PCM_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PCM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PCM_PLUGINS", "")

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        captured = capsys.readouterr()
        return Outcome(exited.value.code or 0, captured.out, captured.err)

    assert run("db", "upgrade").exit_code == 0
    return run


def test_first_admin_is_created_with_the_cli(run: Any) -> None:
    assert "No users" in run("users", "list").stdout
    created = run("users", "create", "root", "--role", "admin", "--password", "a long password!")
    assert created.exit_code == 0
    listed = json.loads(run("users", "list", "--json").stdout)
    assert listed == [
        {"username": "root", "role": "admin", "disabled": False, "last_login_at": None}
    ]


def test_weak_password_is_refused_with_the_field_named(run: Any) -> None:
    outcome = run("users", "create", "root", "--role", "admin", "--password", "short")
    assert outcome.exit_code == 1
    assert "password: must be at least 12 characters long" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_set_role_and_disable_are_audited(run: Any) -> None:
    run("users", "create", "root", "--role", "admin", "--password", "a long password!")
    run("users", "create", "ops", "--role", "viewer", "--password", "another password")
    assert run("users", "set-role", "ops", "operator").exit_code == 0
    assert run("users", "disable", "ops").exit_code == 0
    lines = run("audit", "tail", "--json").stdout.strip().splitlines()
    actions = [json.loads(line)["action"] for line in lines]
    assert actions == [
        "core.user.create",
        "core.user.create",
        "core.user.role_change",
        "core.user.disable",
    ]
    assert all(json.loads(line)["actor"].startswith("cli") for line in lines)


def test_last_admin_cannot_be_disabled(run: Any) -> None:
    run("users", "create", "root", "--role", "admin", "--password", "a long password!")
    outcome = run("users", "disable", "root")
    assert outcome.exit_code == 1
    assert "last enabled admin" in outcome.stderr


def test_token_is_printed_once_and_listed_without_it(run: Any) -> None:
    run("users", "create", "ops", "--role", "operator", "--password", "another password")
    created = run("tokens", "create", "ops", "--name", "ci", "--scope", "core:jobs.read")
    token = created.stdout.strip()
    assert token.startswith("pcm_")
    listed = run("tokens", "list", "--json").stdout
    assert token not in listed
    assert json.loads(listed)[0]["scopes"] == ["core:jobs.read"]
    assert run("tokens", "revoke", "1").exit_code == 0
    assert json.loads(run("tokens", "list", "--json").stdout)[0]["state"] == "revoked"


def test_token_scope_beyond_the_role_is_refused(run: Any) -> None:
    run("users", "create", "eve", "--role", "viewer", "--password", "another password")
    outcome = run("tokens", "create", "eve", "--name", "x", "--scope", "core:users.manage")
    assert outcome.exit_code == 1
    assert "scopes" in outcome.stderr


def test_secrets_rotate_reports_and_writes_a_new_key(run: Any, tmp_path: Any) -> None:
    key_file = tmp_path / "secret.key"
    run("users", "list")  # configures the secrets service: creates the key file
    [old_key] = key_file.read_text().split()
    outcome = run("secrets", "rotate")
    assert outcome.exit_code == 0
    assert "re-encrypted 0 secret value(s)" in outcome.stdout
    new_key, kept = key_file.read_text().split()
    assert new_key != old_key
    assert kept == old_key
    assert run("secrets", "rotate", "--retire-old").exit_code == 0
    assert len(key_file.read_text().split()) == 1
