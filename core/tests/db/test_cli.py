"""``pcm-ops db ...`` through the real command line, on the test's database."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import pcm_ops.discovery
from pcm_ops.cli.main import cli, main
from pcm_ops.errors import DatabaseError
from pcm_ops.settings import Settings

Run = Callable[..., Result]


@pytest.fixture
def run(
    make_pcm_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    widgets: EntryPoint,
    gadgets: EntryPoint,
) -> Run:
    """``run("db", "status", plugins=[...])``: invoke ``pcm-ops`` with ``PCM_DATA_DIR`` and
    ``PCM_DATABASE_URL`` set to the test's, and only ``plugins`` (default: widgets) installed."""
    settings = make_pcm_settings()
    monkeypatch.setenv("PCM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PCM_DATABASE_URL", settings.effective_database_url)

    def invoke(*args: str, plugins: list[EntryPoint] | None = None) -> Result:
        installed = [widgets] if plugins is None else plugins
        monkeypatch.setattr(pcm_ops.discovery, "installed_entry_points", lambda: installed)
        return CliRunner().invoke(cli, list(args))

    return invoke


def test_status_of_an_empty_database_lists_every_tree_as_pending(run: Run) -> None:
    result = run("db", "status")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["TREE", "CURRENT", "HEAD", "PENDING"]
    assert lines[2].split()[:3] == ["db-widgets", "(none)", "dbw_0002"]


def test_status_json(run: Run) -> None:
    run("db", "upgrade")

    result = run("db", "status", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [row["owner"] for row in report] == ["core", "db-widgets"]
    assert report[1] == {
        "owner": "db-widgets",
        "branch_label": "db-widgets",
        "head": "dbw_0002",
        "current": "dbw_0002",
        "pending": [],
        "at_head": True,
    }


def test_upgrade_reports_what_moved_and_then_that_nothing_is_left(run: Run) -> None:
    first = run("db", "upgrade")
    second = run("db", "upgrade")

    assert first.exit_code == 0, first.output
    assert "db-widgets: (none) -> dbw_0002" in first.output
    assert second.output == "Nothing to do.\n"


def test_downgrade_a_plugin_to_base(run: Run) -> None:
    run("db", "upgrade")

    result = run("db", "downgrade", "db-widgets@base")

    assert result.exit_code == 0, result.output
    assert result.output == "db-widgets: dbw_0002 -> (none)\n"


def test_check_passes_when_models_and_migrations_agree(run: Run) -> None:
    run("db", "upgrade")

    result = run("db", "check")

    assert result.exit_code == 0, result.output
    assert result.output == "Models and migrations agree.\n"


def test_check_exits_1_and_lists_the_differences(run: Run, gadgets: EntryPoint) -> None:
    run("db", "upgrade", plugins=[gadgets])

    result = run("db", "check", plugins=[gadgets])

    assert result.exit_code == 1
    assert "  column dbg_gadget.color: in the models but not in the migrations" in result.output


def test_seed_reports_each_seed(run: Run) -> None:
    run("db", "upgrade")

    result = run("db", "seed")
    again = run("db", "seed", "--demo")

    assert result.exit_code == 0, result.output
    assert "plugin 'db-widgets', seed 'starter-widgets' v1: applied" in result.output
    assert "plugin 'db-widgets', seed 'starter-widgets' v1: up-to-date" in again.output
    assert "plugin 'db-widgets', seed 'demo-widgets' v1: applied" in again.output


def test_seed_exits_1_when_a_seed_fails(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    run("db", "upgrade")
    monkeypatch.setenv("PCM_DB_WIDGETS__SEED_FAILS", "true")

    result = run("db", "seed")

    assert result.exit_code == 1
    assert "seed 'starter-widgets' v1: failed (RuntimeError" in result.output


def test_revision_writes_into_the_plugins_version_directory(
    run: Run, widgets_versions: Path
) -> None:
    result = run("db", "revision", "db-widgets", "-m", "first widgets", "--empty")

    assert result.exit_code == 0, result.output
    written = widgets_versions / "dbw_0001_first_widgets.py"
    assert result.output == f"Wrote {written}\n"
    assert "branch_labels" in written.read_text()


def test_an_unknown_plugin_in_the_target_is_a_database_error(run: Run) -> None:
    result = run("db", "upgrade", "nope@head")

    assert result.exit_code == 1
    assert isinstance(result.exception, DatabaseError)


def test_the_entry_point_prints_errors_as_one_line_without_traceback(
    run: Run, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pcm_ops.discovery, "installed_entry_points", list)

    with pytest.raises(SystemExit) as exited:
        main(["db", "upgrade", "nope@head"])

    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("Error: unknown migration tree 'nope': no plugin has this id")
    assert error.count("\n") == 1


def test_a_command_on_a_database_never_upgraded_says_to_upgrade_it(
    run: Run, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run("db", "status")  # sets the test's database in the environment; creates no table
    monkeypatch.setattr(pcm_ops.discovery, "installed_entry_points", list)

    with pytest.raises(SystemExit) as exited:
        main(["users", "list"])

    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("Error: the database is not up to date (")
    assert "run `pcm-ops db upgrade` first" in error
    # Where it looked, and how to look elsewhere (e.g. the demo's data directory).
    assert "(used the " in error
    assert "set PCM_DATA_DIR or PCM_DATABASE_URL for another)" in error
    assert "Traceback" not in error
    assert error.count("\n") == 1
