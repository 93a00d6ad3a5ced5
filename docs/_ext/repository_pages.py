"""MkDocs hooks: the repository's own Markdown files become pages of the site too.

The Markdown in ``docs/`` is read in two places: on a repository host, where a relative link
such as ``../plugins/pcm-aws-common/README.md`` opens that file, and in the site that
``mkdocs build`` makes from ``docs/`` alone, where that file does not exist. So that one
link works in both, without absolute URLs:

- the files in :data:`REPOSITORY_PAGES` (the READMEs, the benchmark results) are added to
  the site under ``repository/<their path>``;
- a relative link in any page is read as the repository reads it, from the page's place in
  the repository, and rewritten to the site page for that file: a page of ``docs/``, an
  added file (a folder stands for its ``README.md``), or, for a source file that the site
  documents, the reference page in :data:`SOURCE_PAGES`.

A link to anything else is left as it is, and ``mkdocs build --strict`` fails on it.
Loaded through ``hooks`` in ``mkdocs.yml``.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
DOCS = "docs"
#: Where the added files live in the site.
SITE_FOLDER = "repository"

#: Markdown files outside docs/ that the site includes (globs, relative to the repository).
REPOSITORY_PAGES = (
    "README.md",
    "core/README.md",
    "core/tests/example_plugin/README.md",
    "plugins/*/README.md",
    "bench/README.md",
    "bench/RESULTS.md",
)

#: Source files whose contents the site renders: a link to one opens its reference page.
SOURCE_PAGES = {
    "core/src/pcm_ops/hookspecs.py": "reference/core-hooks.md",
    "core/src/pcm_ops/plugin.py": "reference/core-types.md",
    "plugins/pcm-aws-script-runner/src/pcm_aws_script_runner/hookspecs.py": (
        "reference/aws-script-runner.md"
    ),
    "plugins/pcm-aws-script-runner/src/pcm_aws_script_runner/hooktypes.py": (
        "reference/aws-script-runner.md"
    ),
    "core/tests/example_plugin/src/pcm_example/hookspecs.py": "reference/example-plugin.md",
}

# An inline link or image target: ](target) or ](target "title").
_LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_FENCE = re.compile(r"^\s*(```|~~~)")


def repository_pages() -> dict[str, str]:
    """``{path in the repository: path in the site}`` for every file the site adds."""
    pages = {}
    for pattern in REPOSITORY_PAGES:
        for path in sorted(ROOT.glob(pattern)):
            relative = path.relative_to(ROOT).as_posix()
            pages[relative] = f"{SITE_FOLDER}/{relative}"
    return pages


def on_files(files: Files, config: Any) -> Files:
    for relative, site_path in repository_pages().items():
        files.append(File.generated(config, site_path, abs_src_path=str(ROOT / relative)))
    return files


def site_page_for(repository_path: str, pages: dict[str, str]) -> str | None:
    """The site page that shows ``repository_path`` (a file or folder), or ``None``."""
    path = repository_path.rstrip("/")
    if path in pages:
        return pages[path]
    if f"{path}/README.md" in pages:
        return pages[f"{path}/README.md"]
    if path.startswith(f"{DOCS}/"):
        return path.removeprefix(f"{DOCS}/")
    return SOURCE_PAGES.get(path)


def rewrite_link(target: str, page_repository_path: str, page_site_path: str) -> str:
    """``target`` as a link from the page's place in the site, or unchanged."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return target  # a URL, an anchor on the same page, or an absolute path
    path, hash_, anchor = target.partition("#")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page_repository_path), path))
    in_docs = page_repository_path.startswith(f"{DOCS}/")
    if in_docs and resolved.startswith(f"{DOCS}/"):
        return target  # a link between docs pages: mkdocs resolves it itself
    site_page = site_page_for(resolved, repository_pages())
    if site_page is None:
        return target
    relative = posixpath.relpath(site_page, posixpath.dirname(page_site_path) or ".")
    return f"{relative}{hash_}{anchor}"


def rewrite_links(markdown: str, page_repository_path: str, page_site_path: str) -> str:
    """Every inline link of ``markdown`` outside code blocks, through :func:`rewrite_link`."""
    out = []
    in_fence = False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        if not in_fence:
            line = _LINK.sub(
                lambda match: (
                    match.group(1)
                    + rewrite_link(match.group(2), page_repository_path, page_site_path)
                    + match.group(3)
                ),
                line,
            )
        out.append(line)
    return "".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    site_path = page.file.src_uri
    if site_path.startswith(f"{SITE_FOLDER}/"):
        repository_path = site_path.removeprefix(f"{SITE_FOLDER}/")
    else:
        repository_path = f"{DOCS}/{site_path}"
    return rewrite_links(markdown, repository_path, site_path)
