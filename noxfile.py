"""Every developer task of PCM-Ops: ``python3 noxfile.py -s <session>``.

Sessions: ``tests`` (the default), ``lint``, ``types``, ``wheels``, ``docs``, ``demo``,
``bench``; ``python3 noxfile.py --list`` describes them. Arguments after ``--`` go to the
tool the session runs (pytest, ruff, mypy, mkdocs, ``pcm-ops serve``, the benchmarks).

The file bootstraps itself: run with a Python that lacks nox or uv, it makes a private
virtual environment in ``.nox-bootstrap/`` holding both, and runs itself again with that
environment's Python. A machine needs nothing but Python 3.11 or newer and access to PyPI.
Where nox is installed already, ``nox -s <session>`` works as well.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOTSTRAP_DIR = ROOT / ".nox-bootstrap"
BOOTSTRAP_REQUIREMENTS = ["nox>=2024.10", "uv>=0.5"]
#: Set in the re-executed process, so that a broken bootstrap cannot loop.
BOOTSTRAP_MARKER = "PCM_OPS_NOX_BOOTSTRAPPED"


def _have_tools() -> bool:
    """True when this interpreter can import a recent nox and find uv."""
    try:
        from importlib.metadata import version

        import nox  # noqa: F401
    except ImportError:
        return False
    year, month = (int(part) for part in version("nox").split(".")[:2])
    if (year, month) < (2024, 10):
        return False
    try:
        import uv  # noqa: F401
    except ImportError:
        return shutil.which("uv") is not None
    return True


def _bootstrap() -> None:
    """Make ``.nox-bootstrap/`` with nox and uv if needed, then run this file with it."""
    if os.environ.get(BOOTSTRAP_MARKER):
        sys.exit(
            f"nox or uv is still missing after bootstrapping into {BOOTSTRAP_DIR}; "
            f"delete that folder and run again."
        )
    bin_dir = BOOTSTRAP_DIR / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    stamp = BOOTSTRAP_DIR / "requirements.txt"
    wanted = "\n".join(BOOTSTRAP_REQUIREMENTS) + "\n"
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        print(f"noxfile: installing nox and uv into {BOOTSTRAP_DIR} ...", file=sys.stderr)
        shutil.rmtree(BOOTSTRAP_DIR, ignore_errors=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(BOOTSTRAP_DIR)], check=True)
        except subprocess.CalledProcessError:
            sys.exit(
                f"'{sys.executable} -m venv' failed; on Debian or Ubuntu install the "
                "python3-venv package and run again."
            )
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *BOOTSTRAP_REQUIREMENTS],
            check=True,
        )
        stamp.write_text(wanted)
    env = {
        **os.environ,
        BOOTSTRAP_MARKER: "1",
        # nox finds uv through the uv package; PATH makes `uv` work for everything else.
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
    }
    argv = [str(python), str(Path(__file__).resolve()), *sys.argv[1:]]
    if os.name == "nt":
        sys.exit(subprocess.call(argv, env=env))
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    # This file is what people run first: say clearly when their Python is too old.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"PCM-Ops needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not _have_tools():
        _bootstrap()

import tomllib  # noqa: E402

import nox  # noqa: E402

nox.needs_version = ">=2024.10"
nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"  # `uv sync` below brings a reused environment up to date
nox.options.sessions = ["tests"]

DEMO_DATA_DIR = ROOT / ".demo-data"
DIST_DIR = ROOT / "dist"


def distribution_dirs() -> list[Path]:
    """core/ and every plugins/*/ that is a distribution."""
    return [ROOT / "core", *sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))]


def pytest_paths() -> list[str]:
    """The tests/ folder of every distribution."""
    return [
        str(path.relative_to(ROOT))
        for path in (d / "tests" for d in distribution_dirs())
        if path.is_dir()
    ]


def locked_version(package: str) -> str:
    """``package==<version in uv.lock>``, so that tools run at the version CI runs."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    for entry in lock.get("package", []):
        if entry["name"] == package:
            return f"{package}=={entry['version']}"
    raise LookupError(f"{package} is not in uv.lock; add it to the dev dependency group")


def install_workspace(session: nox.Session) -> None:
    """Install core (with the postgres extra), every plugin (editable) and the dev group.

    `uv sync` installs exactly what uv.lock pins; in CI (``CI`` set) a lock file that does
    not match the pyproject files is an error, locally uv updates it.
    """
    lock_flag = ["--locked"] if os.environ.get("CI") else []
    # Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set (as on CI)
    # every process would otherwise compile FastAPI, SQLAlchemy, botocore... from source
    # again, and the suite starts many (CLI commands, workers, servers): 6 s each instead
    # of 2.5 s. The workspace's own sources are installed editable, so compile them too.
    session.run_install(
        "uv",
        "sync",
        "--all-packages",
        "--group=dev",
        "--compile-bytecode",
        *lock_flag,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )
    sources = [str(path.relative_to(ROOT)) for path in workspace_sources()]
    session.run_install("python", "-m", "compileall", "-q", "-j", "0", *sources)


def workspace_sources() -> list[Path]:
    """The ``src`` folders of core and every plugin."""
    return [ROOT / "core" / "src", *sorted(ROOT.glob("plugins/*/src"))]


def has_paths(args: list[str]) -> bool:
    """True when pytest arguments name a test file or folder of their own."""
    return any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in args)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite: SQLite always, PostgreSQL too when PCM_TEST_POSTGRES_URL is set."""
    install_workspace(session)
    if not os.environ.get("PCM_TEST_POSTGRES_URL"):
        session.log("PCM_TEST_POSTGRES_URL is not set: PostgreSQL tests will be skipped.")
    if not os.environ.get("PCM_TEST_CHROMIUM"):
        session.log("PCM_TEST_CHROMIUM is not set: browser tests will be skipped.")
    args = list(session.posargs)
    paths = [] if has_paths(args) else pytest_paths()
    # Two workers (the CI machine has two cores); each test file stays on one worker so that
    # its module- and session-scoped servers are started once. `-- -n 0` runs serially.
    parallel = (
        []
        if any(a == "-n" or a.startswith("-n") for a in args)
        else ["-n", "2", "--dist", "loadfile"]
    )
    session.run("pytest", *parallel, *paths, *args)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff (no changes made)."""
    session.install(locked_version("ruff"))
    targets = session.posargs or ["."]
    session.run("ruff", "check", *targets)
    session.run("ruff", "format", "--check", *targets)


@nox.session
def types(session: nox.Session) -> None:
    """Type-check core with mypy --strict (settings in the root pyproject.toml)."""
    install_workspace(session)
    session.run("mypy", *(session.posargs or ["core/src/pcm_ops"]))


@nox.session
def wheels(session: nox.Session) -> None:
    """Build the wheel and sdist of every distribution into dist/."""
    shutil.rmtree(DIST_DIR, ignore_errors=True)
    for directory in distribution_dirs():
        session.run("uv", "build", str(directory), "--out-dir", str(DIST_DIR), *session.posargs)
    for artifact in sorted(DIST_DIR.iterdir()):
        if not artifact.name.startswith("."):  # uv writes a .gitignore there
            session.log(f"built {artifact.relative_to(ROOT)}")


@nox.session
def demo(session: nox.Session) -> None:
    """Serve PCM-Ops with demo data on http://127.0.0.1:8500 (SQLite in .demo-data/)."""
    install_workspace(session)
    data_dir = os.environ.get("PCM_DATA_DIR", str(DEMO_DATA_DIR))
    session.log(f"data directory: {data_dir}; stop the server with Ctrl+C")
    # The demo is self-contained: never the database or config file of the calling shell.
    env = {"PCM_DATA_DIR": data_dir, "PCM_DATABASE_URL": None, "PCM_CONFIG": None}
    session.run("pcm-ops", "serve", "--demo", *session.posargs, env=env)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ with mkdocs --strict (mkdocs.yml).

    A broken link or anchor, or a reference to a hook or type that does not exist, fails the
    build. mkdocstrings reads the hook reference from the sources without importing them,
    so only the ``docs`` dependency group is installed, not the workspace: a run takes
    seconds. Arguments after ``--`` go to ``mkdocs build`` (``-- --site-dir /tmp/site``).
    """
    lock_flag = ["--locked"] if os.environ.get("CI") else []
    session.run_install(
        "uv",
        "sync",
        "--only-group=docs",
        *lock_flag,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )
    # Material for MkDocs prints a notice about its future on every build; it is noise here.
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ (see bench/README.md)."""
    script = ROOT / "bench" / "run.py"
    if not script.exists():
        session.log("There are no benchmarks yet (bench/run.py does not exist).")
        return
    install_workspace(session)
    session.run("python", str(script.relative_to(ROOT)), *session.posargs)


if __name__ == "__main__":
    os.chdir(ROOT)  # nox looks for ./noxfile.py; this makes `python3 path/to/noxfile.py` work
    nox.main()
