"""What changed between two versions of a script: a unified diff of the bodies, and the
changes to the language, the parameters, the name, the description and the tags."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from pcm_aws_script_runner.models import AwsSrScriptVersion
from pcm_aws_script_runner.services.parameters import PARAMETER_KEYS

__all__ = ["FieldChange", "ParameterChange", "VersionDiff", "diff_versions"]


@dataclass(frozen=True)
class FieldChange:
    """A field whose value differs: ``before`` in the older version, ``after`` in the newer."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ParameterChange:
    """A parameter that was added, removed or changed.

    Attributes:
        name: the parameter's name.
        change: ``added``, ``removed`` or ``changed``.
        before: its declaration in the older version (``None`` when added).
        after: its declaration in the newer version (``None`` when removed).
        fields: for ``changed``, the keys whose values differ (``type``, ``default``...).
    """

    name: str
    change: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionDiff:
    """The differences from version ``from_version`` to version ``to_version``.

    Attributes:
        body_diff: a unified diff of the bodies (three lines of context, files named
            ``<name>@v<n>``); empty when the bodies are equal.
        fields: changes to ``name``, ``description``, ``tags`` and ``language``.
        parameters: parameter changes, in the newer version's order, removed ones last.
        parameters_reordered: the same parameters are declared in another order.
    """

    script_id: int
    from_version: int
    to_version: int
    from_sha256: str
    to_sha256: str
    body_diff: str
    fields: list[FieldChange] = field(default_factory=list)
    parameters: list[ParameterChange] = field(default_factory=list)
    parameters_reordered: bool = False

    @property
    def content_changed(self) -> bool:
        return self.from_sha256 != self.to_sha256


def unified_body_diff(old: AwsSrScriptVersion, new: AwsSrScriptVersion) -> str:
    lines = difflib.unified_diff(
        old.body.splitlines(),
        new.body.splitlines(),
        fromfile=f"{old.name}@v{old.number}",
        tofile=f"{new.name}@v{new.number}",
        lineterm="",
    )
    return "\n".join(lines)


def _parameter_changes(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[list[ParameterChange], bool]:
    before = {spec["name"]: spec for spec in old}
    after = {spec["name"]: spec for spec in new}
    changes: list[ParameterChange] = []
    for name, spec in after.items():
        if name not in before:
            changes.append(ParameterChange(name, "added", None, spec))
            continue
        differing = tuple(key for key in PARAMETER_KEYS if before[name].get(key) != spec.get(key))
        if differing:
            changes.append(ParameterChange(name, "changed", before[name], spec, differing))
    for name, spec in before.items():
        if name not in after:
            changes.append(ParameterChange(name, "removed", spec, None))
    common_before = [name for name in before if name in after]
    common_after = [name for name in after if name in before]
    return changes, common_before != common_after


def diff_versions(old: AwsSrScriptVersion, new: AwsSrScriptVersion) -> VersionDiff:
    """What changed from ``old`` to ``new`` (two versions of the same script, in either
    order: the diff reads from the first to the second)."""
    fields = [
        FieldChange(name, getattr(old, name), getattr(new, name))
        for name in ("name", "description", "tags", "language")
        if getattr(old, name) != getattr(new, name)
    ]
    parameters, reordered = _parameter_changes(old.parameters, new.parameters)
    return VersionDiff(
        script_id=new.script_id,
        from_version=old.number,
        to_version=new.number,
        from_sha256=old.sha256,
        to_sha256=new.sha256,
        body_diff=unified_body_diff(old, new),
        fields=fields,
        parameters=parameters,
        parameters_reordered=reordered,
    )
