"""Core and plugins as users get them: wheels installed into a fresh virtual environment.

Slow (builds wheels, creates environments, starts servers): ``pytest -m "not slow"`` skips
it. It uses ``uv`` when it is on PATH and falls back to ``python -m build`` and ``venv``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

CORE_DIR = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = CORE_DIR / "tests" / "example_plugin"


@dataclass(frozen=True)
class Wheels:
    core: Path
    example: Path
    broken: Path


@dataclass(frozen=True)
class Environment:
    """A virtual environment with some wheels installed, and a data directory."""

    bin: Path
    data_dir: Path

    def variables(self) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PCM_") and name not in ("VIRTUAL_ENV", "PYTHONPATH")
        }
        return {**inherited, "PCM_DATA_DIR": str(self.data_dir)}

    def pcm_ops(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "pcm-ops"), *args],
            env=self.variables(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _write_broken_plugin(root: Path) -> Path:
    """A plugin distribution whose entry-point module raises on import."""
    package = root / "src" / "pcm_broken"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"

            [project]
            name = "pcm-broken-plugin"
            version = "0.0.1"
            requires-python = ">=3.11"
            dependencies = ["pcm-ops-core>=0.1"]

            [project.entry-points."pcm_ops.plugins"]
            broken = "pcm_broken.plugin"

            [tool.hatch.build.targets.wheel]
            packages = ["src/pcm_broken"]
            """
        )
    )
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text('raise RuntimeError("this plugin is broken on purpose")\n')
    return root


@pytest.fixture(scope="session")
def wheels(build_wheel: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    broken_project = _write_broken_plugin(tmp_path_factory.mktemp("pcm-broken-plugin"))
    return Wheels(
        core=build_wheel(CORE_DIR),
        example=build_wheel(EXAMPLE_DIR),
        broken=build_wheel(broken_project),
    )


def _environment(fresh_venv: Callable[..., Path], root: Path, *wheels: Path) -> Environment:
    return Environment(bin=fresh_venv(root / "venv", *wheels), data_dir=root / "data")


@pytest.fixture(scope="session")
def core_only(
    wheels: Wheels, fresh_venv: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> Environment:
    """A fresh environment with core's wheel and nothing else."""
    return _environment(fresh_venv, tmp_path_factory.mktemp("core-only"), wheels.core)


@pytest.fixture(scope="session")
def with_plugins(
    wheels: Wheels, fresh_venv: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> Environment:
    """A fresh environment with core, the example plugin and the broken plugin."""
    return _environment(
        fresh_venv,
        tmp_path_factory.mktemp("with-plugins"),
        wheels.core,
        wheels.example,
        wheels.broken,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]


def _serve(environment: Environment, *options: str) -> Iterator[Server]:
    """Start ``pcm-ops serve`` and wait until it answers ``/healthz``; stop it afterwards."""
    port = _free_port()
    log = (environment.data_dir.parent / f"serve-{port}.log").open("w+")
    process = subprocess.Popen(
        [str(environment.bin / "pcm-ops"), *options, "serve", "--port", str(port)],
        env=environment.variables(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            log.seek(0)
            pytest.fail(f"pcm-ops serve did not answer on {url}:\n{log.read()}")
        yield Server(url=url, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def listed_with_plugins(with_plugins: Environment) -> dict[str, dict]:
    """``pcm-ops plugins list --json`` in the environment with plugins, by plugin id."""
    completed = with_plugins.pcm_ops("plugins", "list", "--json")
    assert completed.returncode == 0, completed.stderr
    return {plugin["id"]: plugin for plugin in json.loads(completed.stdout)["plugins"]}


@pytest.fixture
def core_only_server(core_only: Environment) -> Iterator[Server]:
    yield from _serve(core_only)


@pytest.fixture
def with_plugins_server(with_plugins: Environment) -> Iterator[Server]:
    yield from _serve(with_plugins)


def test_core_alone_has_no_plugins(core_only):
    completed = core_only.pcm_ops("plugins", "list")

    assert (completed.returncode, completed.stdout) == (0, "No plugins installed.\n")


def test_core_alone_serves_healthz(core_only_server):
    response = httpx.get(f"{core_only_server.url}/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_an_installed_plugin_wheel_is_listed_with_its_routes(listed_with_plugins):
    example = listed_with_plugins["example"]
    assert (example["state"], example["distribution"], example["version"]) == (
        "loaded",
        "pcm-example-plugin",
        "0.1.0",
    )
    assert "GET /api/tools/example/notes/notes" in example["routes"]
    assert "GET /tools/example/notes/" in example["routes"]


def test_a_plugin_wheel_that_fails_to_import_is_listed_as_failed(listed_with_plugins):
    broken = listed_with_plugins["broken"]

    assert broken["state"] == "failed"
    assert "RuntimeError: this plugin is broken on purpose" in broken["error"]


def test_the_server_serves_despite_a_broken_plugin(with_plugins_server):
    response = httpx.get(f"{with_plugins_server.url}/healthz")

    assert response.status_code == 200
    assert with_plugins_server.process.poll() is None


def test_strict_mode_refuses_to_serve_with_a_broken_plugin(with_plugins):
    completed = with_plugins.pcm_ops("--strict", "serve", "--port", str(_free_port()))

    assert completed.returncode != 0
    assert completed.stderr.startswith("Error: plugin 'broken': import of pcm_broken.plugin")
    assert "Traceback" not in completed.stderr


# -- a plugin from the scaffold, as a new tool author makes one --------------------------------

REPO_DIR = CORE_DIR.parent


@pytest.fixture(scope="session")
def scaffolded(
    wheels: Wheels,
    build_wheel: Callable[[Path], Path],
    fresh_venv: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Environment:
    """``pcm-ops plugins new`` run from core's wheel, the new plugin's wheel built and
    installed with its test dependencies, beside core's, aws-common's and the script
    runner's wheels (its plugin builds on the script runner)."""
    root = tmp_path_factory.mktemp("scaffolded")
    author = _environment(fresh_venv, root / "author", wheels.core)
    written = subprocess.run(
        [
            str(author.bin / "pcm-ops"),
            "plugins",
            "new",
            "change-gate",
            "--provider",
            "acme",
            "--script-runner",
            "--directory",
            str(root / "pcm-change-gate"),
        ],
        env=author.variables(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    plugin = build_wheel(root / "pcm-change-gate")
    common = build_wheel(REPO_DIR / "plugins" / "pcm-aws-common")
    runner = build_wheel(REPO_DIR / "plugins" / "pcm-aws-script-runner")
    return _environment(
        fresh_venv,
        root / "env",
        Path(f"{wheels.core}[testing,postgres]"),
        Path(f"{common}[testing]"),
        Path(f"{runner}[testing]"),
        Path(f"{plugin}[test]"),
    )


def test_a_scaffolded_plugin_passes_its_own_tests_from_its_wheel(scaffolded):
    project = scaffolded.data_dir.parent.parent / "pcm-change-gate"
    variables = scaffolded.variables()
    if os.environ.get("PCM_TEST_POSTGRES_URL"):
        variables["PCM_TEST_POSTGRES_URL"] = os.environ["PCM_TEST_POSTGRES_URL"]
    # The installed wheel is tested, not the source folder: pytest runs the tests only.
    completed = subprocess.run(
        [str(scaffolded.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env={**variables, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout
    assert " failed" not in completed.stdout


def test_a_scaffolded_plugin_loads_in_the_server(scaffolded):
    listed = scaffolded.pcm_ops("plugins", "list", "--json")
    upgraded = scaffolded.pcm_ops("db", "upgrade", timeout=120)

    assert listed.returncode == 0, listed.stderr
    plugins = {plugin["id"]: plugin for plugin in json.loads(listed.stdout)["plugins"]}
    assert plugins["change-gate"]["state"] == "loaded", plugins["change-gate"]
    assert "POST /api/tools/acme/change-gate/items" in plugins["change-gate"]["routes"]
    assert upgraded.returncode == 0, upgraded.stderr
    for server in _serve(scaffolded):
        page = httpx.get(
            f"{server.url}/tools/acme/change-gate/",
            headers={"Accept": "text/html"},
            follow_redirects=False,
        )
        api = httpx.get(f"{server.url}/api/tools/acme/change-gate/items")
        assert page.status_code == 303  # a browser is sent to log in
        assert page.headers["location"].startswith("/login")
        assert api.status_code == 401


# -- the ServiceNow plugin alone (without the AWS plugins) --------------------------------------


@pytest.fixture(scope="session")
def servicenow_alone(
    wheels: Wheels,
    build_wheel: Callable[[Path], Path],
    fresh_venv: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Environment:
    """Core and pcm-servicenow-cmdb from their wheels, nothing else of ours."""
    root = tmp_path_factory.mktemp("servicenow-alone")
    plugin = build_wheel(REPO_DIR / "plugins" / "pcm-servicenow-cmdb")
    return _environment(fresh_venv, root, wheels.core, plugin)


def test_the_servicenow_plugin_works_without_the_aws_plugins(servicenow_alone):
    listed = servicenow_alone.pcm_ops("plugins", "list", "--json")
    upgraded = servicenow_alone.pcm_ops("db", "upgrade", timeout=120)
    connections = servicenow_alone.pcm_ops("servicenow", "connections", "list")

    plugins = {plugin["id"]: plugin for plugin in json.loads(listed.stdout)["plugins"]}
    assert list(plugins) == ["servicenow-cmdb"]
    assert plugins["servicenow-cmdb"]["state"] == "loaded", plugins
    assert "GET /api/tools/servicenow/cmdb/changes" in plugins["servicenow-cmdb"]["routes"]
    assert upgraded.returncode == 0, upgraded.stderr
    assert (connections.returncode, connections.stdout) == (0, "No ServiceNow connections.\n")
