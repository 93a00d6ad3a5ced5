"""The ``pcm-ops`` command line: commands, plugin listing, exit codes and error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from pcm_ops import PLUGIN_API_VERSION, __version__
from pcm_ops.cli.main import main

TESTS_DIR = Path(__file__).parent
PCM_OPS = Path(sys.executable).with_name("pcm-ops")


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run(make_pcm_settings, tmp_path, monkeypatch, capsys):
    """Run ``pcm-ops`` in this process, through the console script's ``main``.

    The data directory is the test's; ``make_pcm_settings`` has cleared the developer's
    ``PCM_*`` variables.
    """
    monkeypatch.setenv("PCM_DATA_DIR", str(tmp_path))

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        captured = capsys.readouterr()
        return Outcome(exited.value.code or 0, captured.out, captured.err)

    return run


def subprocess_environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The environment less ``PCM_*`` variables, with the test's data directory."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    return {**environment, "PCM_DATA_DIR": str(tmp_path / "data"), **variables}


def install_fixture_plugins_for_subprocesses(
    tmp_path: Path, *modules: str, cli: dict[str, str] | None = None
) -> str:
    """A PYTHONPATH on which fixture plugin modules are importable and registered as
    entry points (through a ``.dist-info`` folder), for a child Python process; ``cli``
    adds ``pcm_ops.cli`` entry points (plugin id → ``module:attribute``)."""
    site = tmp_path / "site"
    dist_info = site / "pcm_ops_test_fixtures-0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pcm-ops-test-fixtures\nVersion: 0\n"
    )
    lines = [f"{m.replace('_', '-')} = fixtures_plugins.{m}" for m in modules]
    text = "[pcm_ops.plugins]\n" + "\n".join(lines) + "\n"
    if cli:
        declared = (f"{plugin_id} = fixtures_plugins.{target}" for plugin_id, target in cli.items())
        text += "\n[pcm_ops.cli]\n" + "\n".join(declared) + "\n"
    (dist_info / "entry_points.txt").write_text(text)
    return os.pathsep.join([str(site), str(TESTS_DIR)])


@pytest.fixture
def installed_fixture_plugins(installed_fixture_plugins, monkeypatch):
    """Core's fixture, and the fixture plugins are all the CLI's listing sees installed too
    (they declare no ``pcm_ops.cli`` entry point: discovery finds their commands)."""
    import pcm_ops.cli.plugin_commands

    def install(*modules):
        entry_points = installed_fixture_plugins(*modules)
        ids = sorted(entry_point.name for entry_point in entry_points)
        monkeypatch.setattr(pcm_ops.cli.plugin_commands, "installed_plugin_ids", lambda _: ids)
        return entry_points

    return install


def test_help_lists_core_commands_and_plugin_commands(run, installed_fixture_plugins):
    installed_fixture_plugins("alpha")

    outcome = run("--help")

    assert outcome.exit_code == 0
    commands = outcome.stdout.split("Commands:")[1].split()
    for name in ("db", "plugins", "serve", "version", "alpha"):
        assert name in commands


def test_a_plugin_command_runs(run, installed_fixture_plugins):
    installed_fixture_plugins("alpha")

    outcome = run("alpha", "hello")

    assert (outcome.exit_code, outcome.stdout) == (0, "hello from alpha\n")


def test_help_works_when_the_settings_are_invalid(run, installed_fixture_plugins, monkeypatch):
    installed_fixture_plugins("alpha")
    monkeypatch.setenv("PCM_PORT", "eighty")

    outcome = run("--help")

    assert outcome.exit_code == 0
    assert "plugins" in outcome.stdout


def test_version_prints_the_core_and_plugin_api_versions(run):
    outcome = run("version")

    assert outcome.exit_code == 0
    assert outcome.stdout == f"pcm-ops-core {__version__} (plugin API {PLUGIN_API_VERSION})\n"


def test_plugins_list_shows_each_plugin_with_its_state_and_prefix_or_error(
    run, installed_fixture_plugins
):
    installed_fixture_plugins("alpha", "broken_import")

    outcome = run("plugins", "list")

    assert outcome.exit_code == 0
    alpha, broken = outcome.stdout.splitlines()
    assert alpha.split() == ["alpha", "?", "loaded", "/api/tools/test/alpha/"]
    assert broken.split()[:3] == ["broken-import", "?", "failed"]
    assert "RuntimeError: boom at import time" in broken


def test_plugins_list_says_when_no_plugin_is_installed(run, installed_fixture_plugins):
    installed_fixture_plugins()

    outcome = run("plugins", "list")

    assert (outcome.exit_code, outcome.stdout) == (0, "No plugins installed.\n")


def test_plugins_list_json_describes_every_plugin(run, installed_fixture_plugins):
    installed_fixture_plugins("alpha", "broken_import")

    outcome = run("plugins", "list", "--json")

    report = json.loads(outcome.stdout)
    assert report["plugin_api_version"] == PLUGIN_API_VERSION
    alpha, broken = report["plugins"]
    assert (alpha["id"], alpha["state"], alpha["routes"]) == (
        "alpha",
        "loaded",
        ["GET /api/tools/test/alpha/items"],
    )
    assert "pcm_ops_startup" in alpha["hooks"]
    assert (broken["id"], broken["state"]) == ("broken-import", "failed")
    assert report["hook_call_order"]["pcm_ops_api_routers"] == ["alpha"]


def test_plugins_check_exits_0_when_every_plugin_loads(run, installed_fixture_plugins):
    installed_fixture_plugins("alpha", "beta")

    outcome = run("plugins", "check")

    assert (outcome.exit_code, outcome.stdout) == (0, "ok: 2 plugin(s) loaded\n")


def test_plugins_check_exits_1_naming_each_failing_plugin(run, installed_fixture_plugins):
    installed_fixture_plugins("alpha", "broken_import", "escaping_route")

    outcome = run("plugins", "check")

    assert outcome.exit_code == 1
    broken, escaping = outcome.stderr.splitlines()
    assert broken.startswith("broken-import: failed: import of fixtures_plugins.broken_import")
    assert escaping.startswith("escaping-route: failed: route GET /api/elsewhere/things")


def test_strict_mode_makes_a_failing_plugin_an_error(run, installed_fixture_plugins):
    installed_fixture_plugins("alpha", "broken_import")

    outcome = run("--strict", "plugins", "list")

    assert outcome.exit_code == 1
    assert outcome.stderr.startswith("Error: plugin 'broken-import': import of")
    assert "strict mode" in outcome.stderr


def test_invalid_settings_are_one_line_and_exit_1(run, monkeypatch):
    monkeypatch.setenv("PCM_PORT", "eighty")

    outcome = run("plugins", "list")

    assert outcome.exit_code == 1
    assert outcome.stderr.startswith("Error: invalid setting port: ")
    assert outcome.stderr.count("\n") == 1


def test_an_unknown_plugin_in_the_allow_list_is_one_message_naming_the_installed_ones(
    run, installed_fixture_plugins, monkeypatch
):
    installed_fixture_plugins("alpha")
    monkeypatch.setenv("PCM_PLUGINS", "gamma")

    outcome = run("plugins", "list")

    assert outcome.exit_code == 1
    assert outcome.stderr == (
        "Error: invalid setting plugins: unknown plugin 'gamma'; installed: alpha\n"
    )


def test_the_console_script_reports_bad_settings_without_a_traceback(tmp_path):
    environment = subprocess_environment(tmp_path, PCM_DATABASE_URL="not a url")

    completed = subprocess.run(
        [str(PCM_OPS), "plugins", "list"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 1
    assert completed.stderr.startswith("Error: invalid setting database_url: 'not a url'")
    assert completed.stderr.count("\n") == 1
    assert "Traceback" not in completed.stderr


def test_help_imports_neither_fastapi_nor_sqlalchemy_nor_uvicorn(tmp_path):
    pythonpath = install_fixture_plugins_for_subprocesses(tmp_path, "alpha")
    environment = subprocess_environment(tmp_path, PYTHONPATH=pythonpath, PCM_PLUGINS="alpha")
    script = textwrap.dedent(
        """
        import sys
        from pcm_ops.cli.main import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        heavy = [name for name in ("fastapi", "sqlalchemy", "uvicorn") if name in sys.modules]
        print("heavy modules:", ",".join(heavy) or "none", file=sys.stderr)
        """
    )

    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert "alpha" in completed.stdout.split("Commands:")[1]
    assert completed.stderr.strip().splitlines()[-1] == "heavy modules: none"


# -- plugin commands declared in the pcm_ops.cli entry-point group ------------------------------

DECLARED_CLI = {
    "declared": "declared_cli:declared",
    "declared-incompatible": "declared_cli:from_the_future",
}
#: Modules `pcm-ops --help` must not import (settings model, discovery, the web stack).
HEAVY_MODULES = ("fastapi", "sqlalchemy", "uvicorn", "pydantic", "pydantic_settings", "pluggy")


def run_with_declared_plugins(tmp_path: Path, *args: str, **variables: str):
    """Run ``pcm-ops *args`` in a child process with the ``alpha`` (no declaration),
    ``declared`` and ``declared-incompatible`` fixture plugins installed; the child prints
    the heavy modules it imported as its last line of stderr."""
    pythonpath = install_fixture_plugins_for_subprocesses(
        tmp_path, "alpha", "declared", "declared_incompatible", cli=DECLARED_CLI
    )
    environment = subprocess_environment(tmp_path, PYTHONPATH=pythonpath, **variables)
    script = textwrap.dedent(
        f"""
        import sys
        from pcm_ops.cli.main import main
        try:
            main({list(args)!r})
        except SystemExit as exited:
            code = exited.code
        heavy = [name for name in {HEAVY_MODULES!r} if name in sys.modules]
        print("heavy modules:", ",".join(heavy) or "none", file=sys.stderr)
        sys.exit(code)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=60
    )


def listed_commands(help_text: str) -> list[str]:
    section = help_text.split("Commands:")[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


def test_help_lists_declared_commands_without_discovering_plugins(tmp_path):
    completed = run_with_declared_plugins(tmp_path, "--help", PCM_DISABLED_PLUGINS="alpha")

    assert completed.returncode == 0, completed.stderr
    commands = listed_commands(completed.stdout)
    assert "declared" in commands
    assert "from-the-future" in commands
    assert "alpha" not in commands
    assert "Declared plugin's commands." in completed.stdout
    assert completed.stderr.strip().splitlines()[-1] == "heavy modules: none"


def test_help_still_lists_commands_of_a_plugin_that_declares_none(tmp_path):
    completed = run_with_declared_plugins(tmp_path, "--help")

    assert completed.returncode == 0, completed.stderr
    commands = listed_commands(completed.stdout)
    assert {"alpha", "declared", "from-the-future"} <= set(commands)


def test_help_leaves_out_the_declared_commands_of_a_disabled_plugin(tmp_path):
    config = tmp_path / "pcm.toml"
    config.write_text('disabled_plugins = ["declared"]\n')

    completed = run_with_declared_plugins(
        tmp_path, "--help", PCM_CONFIG=str(config), PCM_PLUGINS="declared,declared-incompatible"
    )

    assert completed.returncode == 0, completed.stderr
    commands = listed_commands(completed.stdout)
    assert "declared" not in commands
    assert "from-the-future" in commands


def test_a_declared_group_lists_its_commands_without_discovering_plugins(tmp_path):
    completed = run_with_declared_plugins(tmp_path, "declared", "--help")

    assert completed.returncode == 0, completed.stderr
    assert listed_commands(completed.stdout) == ["hello"]
    assert completed.stderr.strip().splitlines()[-1] == "heavy modules: none"


def test_a_declared_command_runs_after_discovery_loaded_its_plugin(tmp_path):
    completed = run_with_declared_plugins(tmp_path, "declared", "hello")

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "hello from declared\n"


def test_a_declared_command_of_a_plugin_that_did_not_load_is_refused(tmp_path):
    completed = run_with_declared_plugins(tmp_path, "from-the-future", "hello")

    assert completed.returncode == 2
    assert "hello from the future" not in completed.stdout
    assert (
        "the command 'from-the-future' belongs to plugin 'declared-incompatible', "
        "which is incompatible"
    ) in completed.stderr
    assert "pcm-ops plugins list" in completed.stderr


def test_the_entry_point_reader_agrees_with_importlib_metadata(tmp_path, monkeypatch):
    from importlib.metadata import entry_points

    from pcm_ops.cli.plugin_commands import read_entry_points

    site = install_fixture_plugins_for_subprocesses(tmp_path, "declared", cli=DECLARED_CLI).split(
        os.pathsep
    )[0]
    monkeypatch.syspath_prepend(site)
    groups = ("pcm_ops.plugins", "pcm_ops.cli", "console_scripts")

    read = read_entry_points(groups)

    expected = {group: {} for group in groups}
    for group in groups:
        for entry_point in entry_points(group=group):
            expected[group].setdefault(entry_point.name, entry_point.value)
    assert read == expected
    assert read["pcm_ops.cli"]["declared"] == "fixtures_plugins.declared_cli:declared"
