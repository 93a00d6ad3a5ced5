"""The repository's own rules (see DESIGN.md), checked on every distribution in it.

- Shipped code never changes the import path: no ``sys.path`` edits, no
  ``site.addsitedir``, no ``PYTHONPATH`` games, no ``.pth`` files. Imports work because
  every distribution is installed, never because a file pointed Python at a folder.
- Every distribution (``core``, ``plugins/*``) is a hatchling project with a ``src/``
  layout and its own ``tests/``.
- Every dependency states a lower bound, so that a resolver never picks a release too old
  to work.
- Every core setting is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def load_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def in_repository() -> bool:
    """False when core's tests run from an unpacked sdist, away from the workspace root."""
    root = REPO / "pyproject.toml"
    return root.is_file() and "workspace" in load_toml(root).get("tool", {}).get("uv", {})


if not in_repository():
    pytest.skip("checks the PCM-Ops repository, which is not here", allow_module_level=True)

#: Methods that change a list in place.
LIST_MUTATORS = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"}
LOWER_BOUND_OPERATORS = {">=", ">", "==", "~=", "==="}


def distribution_dirs() -> list[Path]:
    """core/ and every folder in plugins/ (each must be a distribution)."""
    plugins = REPO / "plugins"
    found = plugins.iterdir() if plugins.is_dir() else iter(())
    return [REPO / "core", *sorted(p for p in found if p.is_dir() and p.name[0] not in "._")]


def shipped_python_files() -> list[Path]:
    """Every module a distribution ships: its src/ tree and its build hook."""
    files: list[Path] = []
    for directory in distribution_dirs():
        files += sorted((directory / "src").rglob("*.py"))
        files += sorted(directory.glob("hatch_build.py"))
    return [path for path in files if "node_modules" not in path.parts]


# --- The import-path checker ------------------------------------------------------------


class ImportPathEdits(ast.NodeVisitor):
    """Finds code that changes where Python imports from. Follows ``import sys as s`` and
    ``from sys import path`` aliases, so that renaming does not hide an edit."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.sys_names = {"sys"}
        self.site_names = {"site"}
        self.sys_path_names: set[str] = set()
        self.addsitedir_names: set[str] = set()

    # aliases

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "sys":
                self.sys_names.add(alias.asname or "sys")
            elif alias.name == "site":
                self.site_names.add(alias.asname or "site")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if node.module == "sys" and alias.name == "path":
                self.sys_path_names.add(alias.asname or "path")
            elif node.module == "site" and alias.name == "addsitedir":
                self.addsitedir_names.add(alias.asname or "addsitedir")

    # what counts as sys.path

    def is_sys_path(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.sys_path_names
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.sys_names
        )

    def targets_sys_path(self, target: ast.expr) -> bool:
        """``sys.path = …``, ``sys.path[…] = …``; rebinding a plain name changes nothing."""
        if isinstance(target, ast.Subscript):
            return self.is_sys_path(target.value)
        return isinstance(target, ast.Attribute) and self.is_sys_path(target)

    def report(self, node: ast.AST, what: str) -> None:
        self.problems.append((getattr(node, "lineno", 0), what))

    # edits

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in LIST_MUTATORS and self.is_sys_path(func.value):
                self.report(node, f"sys.path.{func.attr}()")
            elif (
                func.attr == "addsitedir"
                and isinstance(func.value, ast.Name)
                and func.value.id in self.site_names
            ):
                self.report(node, "site.addsitedir()")
        elif isinstance(func, ast.Name) and func.id in self.addsitedir_names:
            self.report(node, "site.addsitedir()")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(self.targets_sys_path(target) for target in node.targets):
            self.report(node, "assignment to sys.path")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        # `path += [...]` extends the list in place, even through a `from sys import path`.
        if self.targets_sys_path(node.target) or self.is_sys_path(node.target):
            self.report(node, "augmented assignment to sys.path")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if self.targets_sys_path(node.target):
            self.report(node, "assignment to sys.path")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        if any(self.targets_sys_path(target) for target in node.targets):
            self.report(node, "del on sys.path")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # Setting PYTHONPATH (for this process's children, or via os.environ) is the same
        # trick one step removed; shipped code has no reason to name it at all.
        if node.value == "PYTHONPATH":
            self.report(node, "use of PYTHONPATH")


def import_path_edits(source: str) -> list[tuple[int, str]]:
    checker = ImportPathEdits()
    checker.visit(ast.parse(source))
    return checker.problems


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.path.insert(0, 'x')",
        "import sys\nsys.path.append('x')",
        "import sys\nsys.path.extend(['x'])",
        "import sys\nsys.path += ['x']",
        "import sys\nsys.path = ['x']",
        "import sys\nsys.path[:0] = ['x']",
        "import sys as system\nsystem.path.insert(0, 'x')",
        "from sys import path\npath.append('x')",
        "from sys import path as p\np.insert(0, 'x')",
        "from sys import path\npath += ['x']",
        "def f():\n    import sys\n    sys.path.insert(0, 'x')",
        "import site\nsite.addsitedir('x')",
        "from site import addsitedir\naddsitedir('x')",
        "import os\nos.environ['PYTHONPATH'] = 'x'",
        "import subprocess\nsubprocess.run(['x'], env={'PYTHONPATH': 'src'})",
    ],
)
def test_checker_finds_import_path_edit(source: str) -> None:
    assert import_path_edits(source)


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nprint(sys.path)",
        "import sys\nfirst = sys.path[0]",
        "import os\nos.path.join('a', 'b')",
        "from pathlib import Path\npath = Path('x')\npath.parent",
        "paths = []\npaths.append('x')",
        "from sys import path\npath = ['x']",
    ],
)
def test_checker_accepts_reading_the_import_path(source: str) -> None:
    assert import_path_edits(source) == []


def test_shipped_code_never_changes_the_import_path() -> None:
    files = shipped_python_files()
    assert files, "found no shipped Python files; is the repository layout as DESIGN.md says?"
    problems = [
        f"{path.relative_to(REPO)}:{line}: {what}"
        for path in files
        for line, what in import_path_edits(path.read_text(encoding="utf-8"))
    ]
    assert problems == [], (
        "shipped code must not change the import path; install the distribution "
        "(uv sync / pip install -e) and use absolute imports instead:\n" + "\n".join(problems)
    )


def test_no_distribution_ships_a_pth_file() -> None:
    found = [str(path.relative_to(REPO)) for d in distribution_dirs() for path in d.rglob("*.pth")]
    assert found == [], f".pth files add folders to sys.path at start-up: {found}"


# --- Distribution layout ----------------------------------------------------------------


@pytest.fixture(params=distribution_dirs(), ids=lambda path: str(path.relative_to(REPO)))
def distribution(request: pytest.FixtureRequest) -> Path:
    directory: Path = request.param
    return directory


def test_distribution_builds_with_hatchling(distribution: Path) -> None:
    pyproject = distribution / "pyproject.toml"
    assert pyproject.is_file(), f"{distribution.relative_to(REPO)} has no pyproject.toml"
    build_system = load_toml(pyproject).get("build-system", {})
    assert build_system.get("build-backend") == "hatchling.build"
    assert any(Requirement(r).name == "hatchling" for r in build_system.get("requires", []))


def test_distribution_has_a_src_layout(distribution: Path) -> None:
    packages = [p.parent for p in (distribution / "src").glob("*/__init__.py")]
    assert packages, f"{distribution.relative_to(REPO)}/src/ holds no import package"
    stray = [p.name for p in distribution.glob("*.py") if p.name != "hatch_build.py"]
    assert stray == [], f"modules outside src/: {stray}"
    hatch = load_toml(distribution / "pyproject.toml").get("tool", {}).get("hatch", {})
    wheel_packages = hatch.get("build", {}).get("targets", {}).get("wheel", {}).get("packages", [])
    assert all(package.startswith("src/") for package in wheel_packages), wheel_packages


def test_distribution_has_its_own_tests(distribution: Path) -> None:
    assert (distribution / "tests").is_dir(), f"{distribution.relative_to(REPO)} has no tests/"


def test_plugin_folder_is_named_after_its_distribution() -> None:
    for directory in distribution_dirs()[1:]:
        name = load_toml(directory / "pyproject.toml")["project"]["name"]
        assert directory.name == name, f"plugins/{directory.name} holds distribution {name!r}"


# --- Dependency bounds ------------------------------------------------------------------


def workspace_members() -> set[str]:
    return {
        canonicalize_name(load_toml(path)["project"]["name"])
        for path in (d / "pyproject.toml" for d in distribution_dirs())
        if path.is_file()
    }


def declared_requirements(pyproject: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, requirement) for every requirement string in one pyproject.toml."""
    for requirement in pyproject.get("build-system", {}).get("requires", []):
        yield "build-system.requires", requirement
    project = pyproject.get("project", {})
    for requirement in project.get("dependencies", []):
        yield "project.dependencies", requirement
    for extra, requirements in project.get("optional-dependencies", {}).items():
        for requirement in requirements:
            yield f"project.optional-dependencies.{extra}", requirement
    for group, requirements in pyproject.get("dependency-groups", {}).items():
        for requirement in requirements:
            if isinstance(requirement, str):  # not an {include-group = ...} table
                yield f"dependency-groups.{group}", requirement


def has_lower_bound(requirement: Requirement) -> bool:
    return any(spec.operator in LOWER_BOUND_OPERATORS for spec in requirement.specifier)


@pytest.mark.parametrize(
    ("text", "bounded"),
    [("fastapi>=0.115", True), ("httpx~=0.27", True), ("fastapi", False), ("x<2", False)],
)
def test_lower_bound_rule(text: str, bounded: bool) -> None:
    assert has_lower_bound(Requirement(text)) is bounded


def test_every_dependency_has_a_lower_bound() -> None:
    members = workspace_members()
    problems = []
    pyprojects = [REPO / "pyproject.toml", *(d / "pyproject.toml" for d in distribution_dirs())]
    for pyproject_path in (path for path in pyprojects if path.is_file()):
        is_workspace_root = pyproject_path.parent == REPO
        data = load_toml(pyproject_path)
        own_name = canonicalize_name(data.get("project", {}).get("name", ""))
        for where, text in declared_requirements(data):
            requirement = Requirement(text)
            # An extra that pulls in another extra of the same distribution
            # (`testing = ["pcm-aws-common[demo]"]`) is the installed version itself.
            if canonicalize_name(requirement.name) == own_name:
                continue
            # The workspace root is never published; there a member comes from its folder
            # (tool.uv.sources) and a version bound would mean nothing.
            if is_workspace_root and canonicalize_name(requirement.name) in members:
                continue
            if not has_lower_bound(requirement):
                problems.append(f"{pyproject_path.relative_to(REPO)} {where}: {text!r}")
    assert problems == [], "dependencies without a lower bound (add e.g. '>=1.2'):\n" + "\n".join(
        problems
    )


# --- Documentation ----------------------------------------------------------------------


def test_every_core_setting_is_documented() -> None:
    from pcm_ops.settings import ENV_PREFIX, Settings

    internal = {"plugin_sections", "config_file"}  # filled by load_settings, not by people
    documented = (REPO / "docs" / "configuration.md").read_text()
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if name not in internal and f"`{ENV_PREFIX}{name.upper()}`" not in documented
    ]
    assert missing == [], f"add these settings to docs/configuration.md: {missing}"


# -- plugins use core's public API only --------------------------------------------------------

#: Core modules that are internals although their names are not private.
INTERNAL_CORE_MODULES = ("pcm_ops.jobs.service", "pcm_ops.jobs.names")


def private_core_imports(source: str) -> list[str]:
    """The ``pcm_ops`` names a module imports that are not core's public API: a module or
    name starting with ``_``, or one of :data:`INTERNAL_CORE_MODULES` (anywhere in the
    module, imports inside functions included)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            names = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] != "pcm_ops":
                continue
            private = [n for n in [*parts, *names] if n.startswith("_")]
            if private or module.startswith(INTERNAL_CORE_MODULES):
                found.append(f"{module}: {', '.join(names) or '*'}")
    return found


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from pcm_ops.cli._db import run_in_session", ["pcm_ops.cli._db: run_in_session"]),
        (
            "def f():\n    from pcm_ops.jobs.service import JobStore",
            ["pcm_ops.jobs.service: JobStore"],
        ),
        ("from pcm_ops.settings import _secret", ["pcm_ops.settings: _secret"]),
        ("import pcm_ops._internal", ["pcm_ops._internal: *"]),
        ("from pcm_ops.cli.session import run_in_session", []),
        ("from pcm_aws_common._x import y", []),
    ],
)
def test_checker_finds_private_core_imports(source: str, found: list[str]) -> None:
    assert private_core_imports(source) == found


def test_plugins_import_only_cores_public_api() -> None:
    offending = {
        str(path.relative_to(REPO)): names
        for path in sorted(REPO.glob("plugins/*/src/**/*.py"))
        if (names := private_core_imports(path.read_text()))
    }
    assert offending == {}
