"""A griffe extension: the reST in PCM-Ops docstrings, read as Markdown by mkdocstrings.

The docstrings are written to read well in the source and in ``help()``, with three bits of
reStructuredText that Markdown does not know. This extension rewrites them before
mkdocstrings renders a docstring, so that the site shows what the source means:

- roles (``:class:`pcm_ops.plugin.Seed```, ``:func:`~pcm_ops.hookspecs.pcm_ops_jobs```)
  become cross-references. A name without a dot is looked up in the docstring's own
  module. A reference to something the site does not document fails ``mkdocs build
  --strict``, so a renamed hook or type cannot leave a dead reference behind;
- a literal block (a paragraph ending in ``::`` and the indented block after it, as in
  ``Example::``) becomes a fenced Python code block;
- a definition list (a line, then an indented paragraph) becomes a Markdown one;

and an attribute without a docstring takes the ``#:`` comment above it, as Sphinx does.

Loaded by the mkdocstrings Python handler (``extensions`` in ``mkdocs.yml``).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|data|attr|mod|exc|obj):`(~?)([\w.]+)`")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def cross_references(text: str, module: griffe.Module) -> str:
    """Turn reST roles into mkdocs-autorefs references (``[`Seed`][pcm_ops.plugin.Seed]``).

    A name without a dot is one of ``module``'s own (``:func:`publish```), unless it is a
    module (``:mod:`pcm_ops```).
    """

    def reference(match: re.Match[str]) -> str:
        role, short, name = match.group(1), match.group(2) == "~", match.group(3)
        local = "." not in name and role != "mod" and name in module.members
        identifier = f"{module.path}.{name}" if local else name
        title = name.rsplit(".", 1)[-1] if short else name
        return f"[`{title}`][{identifier}]"

    return _ROLE.sub(reference, text)


def literal_blocks(text: str) -> str:
    """Turn ``Example::`` and the indented block after it into ``Example:`` and a fence."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        if not line.rstrip().endswith("::"):
            continue
        # The block: a blank line, then every line more indented than the paragraph (or blank).
        start = index
        while start < len(lines) and not lines[start].strip():
            start += 1
        if start == index or start >= len(lines) or _indent(lines[start]) <= _indent(line):
            continue
        end = start
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > _indent(line)):
            end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        stripped = line.rstrip()[:-2].rstrip()
        out[-1] = f"{stripped}:" if stripped else ""
        margin = " " * _indent(line)
        code = textwrap.dedent("\n".join(lines[start:end]))
        rows = [margin + row if row else "" for row in code.splitlines()]
        out += ["", f"{margin}```python", *rows, f"{margin}```"]
        index = end
    return "\n".join(out)


def definition_lists(text: str) -> str:
    """Turn a reST definition (a line at the margin, an indented paragraph) into Markdown's."""
    lines = text.splitlines()
    out: list[str] = []
    in_fence = False
    skip_next = False
    for index, line in enumerate(lines):
        if skip_next:
            skip_next = False
            continue
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        previous = lines[index - 1] if index else ""
        following = lines[index + 1] if index + 1 < len(lines) else ""
        is_term = (
            not in_fence
            and bool(line.strip())
            and _indent(line) == 0
            and not previous.strip()
            and not line.rstrip().endswith(":")
            and not line.startswith(":")
            and bool(following.strip())
            and _indent(following) > 0
        )
        out.append(line)
        if is_term:
            # The rest of the paragraph stays indented under the definition's first line.
            out.append(f":   {following.strip()}")
            skip_next = True
    return "\n".join(out)


def markdown_from_sphinx(text: str, module: griffe.Module) -> str:
    """All three rewrites, in the order that keeps code blocks out of the other two."""
    return definition_lists(literal_blocks(cross_references(text, module)))


def doc_comment(obj: griffe.Object) -> str | None:
    """The ``#:`` comment lines right above an attribute (Sphinx's doc comments), or ``None``."""
    if not obj.is_attribute or obj.lineno is None:
        return None
    lines = obj.module.lines
    above = obj.lineno - 2  # lineno counts from 1
    comment: list[str] = []
    while above >= 0 and lines[above].lstrip().startswith("#:"):
        comment.insert(0, lines[above].lstrip()[2:].strip())
        above -= 1
    return "\n".join(comment) or None


def _rewrite(obj: griffe.Object) -> None:
    if obj.docstring is None and (comment := doc_comment(obj)) is not None:
        obj.docstring = griffe.Docstring(comment, lineno=obj.lineno, parent=obj)
    if obj.docstring is not None:
        obj.docstring.value = markdown_from_sphinx(obj.docstring.value, obj.module)
    for member in obj.members.values():
        if not member.is_alias:
            _rewrite(member)


class SphinxMarkup(griffe.Extension):
    """Rewrites every docstring of a package once it is loaded (see the module's docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _rewrite(pkg)

    # griffe before 2.0 names the same event so.
    on_package_loaded = on_package
