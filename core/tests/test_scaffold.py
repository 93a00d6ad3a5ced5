"""``pcm-ops plugins new``: what it writes, and what it refuses. (The slow end-to-end test,
which builds the new plugin's wheel, runs its tests and serves it, is in test_wheels.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pcm_ops.cli.main import main
from pcm_ops.scaffold import PluginSpec, ScaffoldError, render_plugin


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_the_plugin_id_and_permission_names_live_in_ids_py(tmp_path):
    render_plugin(PluginSpec("change-gate", "acme"), tmp_path)
    package = tmp_path / "src" / "pcm_change_gate"

    ids = (package / "ids.py").read_text()
    assert 'PLUGIN_ID = "change-gate"' in ids
    assert 'READ = f"{PLUGIN_ID}:read"' in ids
    assert 'WRITE = f"{PLUGIN_ID}:write"' in ids
    for module in ("plugin.py", "api.py", "pages.py"):
        assert "from pcm_change_gate.ids import" in (package / module).read_text()
    assert "READ = " not in (package / "plugin.py").read_text()


@pytest.mark.parametrize("script_runner", [False, True])
def test_the_new_plugin_is_valid_python_on_public_api_only(tmp_path, script_runner):
    written = render_plugin(
        PluginSpec("change-gate", "acme", script_runner=script_runner), tmp_path
    )

    python = [path for path in written if path.suffix == ".py"]
    private = []
    for path in python:
        tree = ast.parse((tmp_path / path).read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pcm_ops"):
                names = [node.module or "", *(alias.name for alias in node.names)]
                private += [
                    name for name in names if any(p.startswith("_") for p in name.split("."))
                ]
    assert private == []
    assert Path("src/pcm_change_gate/plugin.py") in written
    assert (
        Path("src/pcm_change_gate/migrations/versions/change_gate_0001_create_item.py") in written
    )
    assert (Path("src/pcm_change_gate/checks.py") in written) is script_runner
    assert ("pcm-aws-script-runner" in (tmp_path / "pyproject.toml").read_text()) is script_runner
    assert 'change-gate = "pcm_change_gate.plugin"' in (tmp_path / "pyproject.toml").read_text()


def test_the_command_writes_the_plugin_and_says_what_next(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    status, out, err = run(capsys, "plugins", "new", "notes", "--provider", "acme")

    assert (status, err) == (0, "")
    assert out.startswith("Wrote 18 files to pcm-notes/ (plugin 'notes').")
    assert "pip install -e '.[test]' && pytest" in out
    assert (tmp_path / "pcm-notes" / "src" / "pcm_notes" / "templates" / "index.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_Id"], "Error: plugin id 'Bad_Id': use lowercase letters and digits"),
        (["ok", "--provider", "9x"], "Error: provider '9x': use lowercase letters"),
    ],
)
def test_bad_names_are_refused_naming_the_option(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)

    status, _, err = run(capsys, "plugins", "new", *args)

    assert status == 1
    assert err.startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_with_files_in_it_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")

    status, _, err = run(capsys, "plugins", "new", "notes", "--directory", str(tmp_path))

    assert status == 1
    assert "is not empty; choose another with --directory" in err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_a_spec_names_everything_after_the_id():
    spec = PluginSpec("change-gate", "acme")

    assert (spec.package, spec.distribution, spec.table_prefix, spec.class_prefix) == (
        "pcm_change_gate",
        "pcm-change-gate",
        "change_gate_",
        "ChangeGate",
    )
    assert (spec.tool_name, spec.title, spec.env_prefix) == (
        "change-gate",
        "Change Gate",
        "PCM_CHANGE_GATE__",
    )
    with pytest.raises(ScaffoldError, match="at most 40 characters"):
        PluginSpec("a" * 41)


# -- the measure: every public name a new plugin uses is in the hook reference ------

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"


def documented_names() -> dict[str, set[str] | None]:
    """``::: target`` entries of the reference pages: target -> its listed members, or
    ``None`` (all of them)."""
    import re

    found: dict[str, set[str] | None] = {}
    for page in REFERENCE.glob("*.md"):
        for match in re.finditer(
            r"^::: (\S+)((?:\n    .*)*)", page.read_text(), flags=re.MULTILINE
        ):
            members = re.search(r"members: \[(.*)\]", match.group(2))
            found[match.group(1)] = (
                {name.strip() for name in members.group(1).split(",")} if members else None
            )
    return found


def is_documented(module: str, name: str, documented: dict[str, set[str] | None]) -> bool:
    if f"{module}.{name}" in documented:
        return True
    members = documented.get(module, set())
    if module in documented and (members is None or name in members):
        return True
    # A module imported as a name (``from pcm_ops import audit``): some of it is documented.
    return any(target.startswith(f"{module}.{name}.") for target in documented)


def test_every_public_name_a_new_plugin_uses_is_in_the_hook_reference(tmp_path):
    documented = documented_names()
    used: set[tuple[str, str]] = set()
    render_plugin(PluginSpec("change-gate", "acme", script_runner=True), tmp_path)
    for path in tmp_path.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                ("pcm_ops", "pcm_aws_script_runner")
            ):
                used |= {(node.module or "", alias.name) for alias in node.names}

    missing = sorted(f"{m}.{n}" for m, n in used if not is_documented(m, n, documented))

    assert len(used) >= 25  # the scaffold uses core's API broadly
    assert missing == []
