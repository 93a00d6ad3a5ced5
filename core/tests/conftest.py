"""Shared fixtures of core's tests. The ``pcm_*`` fixtures come from ``pcm_ops.testing``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from pcm_ops.discovery import ENTRY_POINT_GROUP

TESTS_DIR = Path(__file__).parent
FIXTURE_PACKAGE = "fixtures_plugins"

MakeEntryPoints = Callable[..., list[EntryPoint]]


def fixture_entry_point(module: str, name: str | None = None) -> EntryPoint:
    """The entry point of ``fixtures_plugins.<module>``, named like the module (dashed)."""
    return EntryPoint(
        name or module.replace("_", "-"), f"{FIXTURE_PACKAGE}.{module}", ENTRY_POINT_GROUP
    )


def _forget_fixture_modules() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == FIXTURE_PACKAGE]:
        del sys.modules[name]


@pytest.fixture
def fixture_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeEntryPoints]:
    """Entry points for plugin modules of ``core/tests/fixtures_plugins``.

    ``fixture_plugins("alpha", "broken_import")`` returns one ``EntryPoint`` per module,
    named ``alpha`` and ``broken-import``; pass ``(module, name)`` to choose the name. The
    modules are importable for this test only and are forgotten after it, so that every
    test imports them afresh (and can check that a module was *not* imported).
    """
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    _forget_fixture_modules()

    def make(*modules: str | tuple[str, str]) -> list[EntryPoint]:
        return [
            fixture_entry_point(*spec) if isinstance(spec, tuple) else fixture_entry_point(spec)
            for spec in modules
        ]

    yield make
    _forget_fixture_modules()


@pytest.fixture
def installed_fixture_plugins(
    fixture_plugins: MakeEntryPoints, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., list[EntryPoint]]:
    """Make fixture plugins look installed to code that calls ``installed_entry_points()``
    (the CLI, ``create_app`` without a registry); nothing else installed is seen."""
    import pcm_ops.discovery

    def install(*modules: str | tuple[str, str]) -> list[EntryPoint]:
        entry_points = fixture_plugins(*modules)
        monkeypatch.setattr(
            pcm_ops.discovery,
            "installed_entry_points",
            lambda: sorted(entry_points, key=lambda ep: ep.name),
        )
        return entry_points

    return install


@pytest.fixture
def pcm_plugins(
    request: pytest.FixtureRequest, fixture_plugins: MakeEntryPoints
) -> list[EntryPoint]:
    """Core's tests name plugins of ``fixtures_plugins`` by id in
    ``@pytest.mark.pcm_plugins`` (``"failing-startup"`` is module ``failing_startup``).

    This override returns their entry points, and the marker's ids then mean them (an id
    that the ``pcm_plugins`` fixture returns as an entry point is that entry point); the
    ``pcm_plugins`` fixture of :mod:`pcm_ops.testing.fixtures` would look the ids up among
    installed plugins, the way a plugin's own suite does.
    """
    marker = request.node.get_closest_marker("pcm_plugins")
    if marker is None:
        return []
    return fixture_plugins(*(plugin_id.replace("-", "_") for plugin_id in marker.args))


@pytest.fixture(autouse=True)
def _cheap_passwords(pcm_cheap_passwords: None) -> None:
    """Every test here hashes passwords with Argon2's cheapest parameters (core's fixture)."""


# -- wheels and fresh environments: test_wheels.py and infra/test_processes.py ---------------

UV = shutil.which("uv")


class WheelBuilder:
    """``build_wheel(project)``: the wheel of the distribution in ``project``, built once per
    test session (per xdist worker) into one directory, with ``uv build`` when uv is on PATH,
    else ``python -m build``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._built: dict[Path, Path] = {}

    def __call__(self, project: Path) -> Path:
        project = project.resolve()
        if project not in self._built:
            self._built[project] = self._build(project)
        return self._built[project]

    def _build(self, project: Path) -> Path:
        out_dir = self.out_dir
        if UV:
            command = [UV, "build", "--wheel", "--out-dir", str(out_dir), str(project)]
        else:
            command = [
                sys.executable, "-m", "build", "--wheel", "--outdir", str(out_dir), str(project)
            ]  # fmt: skip
        before = set(out_dir.glob("*.whl"))
        subprocess.run(command, check=True, capture_output=True, timeout=300)
        (built,) = set(out_dir.glob("*.whl")) - before
        return built


@pytest.fixture(scope="session")
def build_wheel(tmp_path_factory: pytest.TempPathFactory) -> WheelBuilder:
    """Builds a distribution's wheel, once per session: ``build_wheel(project_dir)``."""
    return WheelBuilder(tmp_path_factory.mktemp("wheels"))


def make_venv(venv: Path, *requirements: str | Path) -> Path:
    """A new virtual environment at ``venv`` (on the test's Python) with ``requirements``
    (wheel paths, optionally with ``[extras]``) and their dependencies installed from the
    package index; returns its ``bin`` directory. Uses uv when it is on PATH, else venv and
    pip. Either way the modules are compiled to bytecode at install, as pip does (and so
    the image of infra/Dockerfile, whose processes never write bytecode)."""
    if UV:
        subprocess.run(
            [UV, "venv", "--quiet", "--python", sys.executable, str(venv)],
            check=True,
            timeout=120,
        )
        python = venv / "bin" / "python"
        install = [UV, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*install, *map(str, requirements)], check=True, timeout=300)
    return venv / "bin"


@pytest.fixture(scope="session")
def fresh_venv() -> Callable[..., Path]:
    """``fresh_venv(path, *wheels)``: a new virtual environment with those wheels installed;
    its ``bin`` directory."""
    return make_venv
