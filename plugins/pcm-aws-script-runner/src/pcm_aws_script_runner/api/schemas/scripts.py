"""What the scripts API (``/scripts``) accepts and returns, separate from the table models,
and the conversions from table rows.

Request models check shapes (types, known keys); the rules (name format, sizes, parameter
defaults...) are the services' (:mod:`pcm_aws_script_runner.services.validation`), so that the
API, the pages and the CLI refuse the same things with the same messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pcm_aws_script_runner.models import AwsSrScript, AwsSrScriptVersion
from pcm_aws_script_runner.services.diff import VersionDiff
from pcm_aws_script_runner.services.validation import LANGUAGES

Language = Literal["shell", "powershell"]
ParameterType = Literal["string", "integer", "boolean", "choice"]


class ParameterSpecIn(BaseModel):
    """A parameter the script declares."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="`^[A-Za-z][A-Za-z0-9_]{0,63}$`, unique within the script.")
    type: ParameterType = "string"
    description: str = ""
    default: Any = Field(
        default=None,
        description="Of the parameter's type (a choice's default is one of its choices). "
        "Secret parameters cannot have one.",
    )
    required: bool = False
    secret: bool = Field(
        default=False, description="The value is masked wherever it is shown or recorded."
    )
    choices: list[str] = Field(default_factory=list, description="For `choice` only.")


class ParameterSpecOut(BaseModel):
    name: str
    type: ParameterType
    description: str
    default: str | int | bool | None
    required: bool
    secret: bool
    choices: list[str]


class ScriptIn(BaseModel):
    """A new script: its first version."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique regardless of case; letters, digits, ` ._-`.")
    description: str = ""
    language: Language = Field(
        description="`shell` runs with AWS-RunShellScript, `powershell` with "
        "AWS-RunPowerShellScript."
    )
    body: str = Field(description="At most 64 KiB (UTF-8); line endings are stored as LF.")
    parameters: list[ParameterSpecIn] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="Stored lower-cased and sorted.")
    comment: str = Field(default="", description="Why: recorded with the version.")


class ScriptPatch(BaseModel):
    """A new version: the fields given replace the current ones; the others stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    language: Language | None = None
    body: str | None = None
    parameters: list[ParameterSpecIn] | None = Field(
        default=None, description="Replaces the whole list."
    )
    tags: list[str] | None = None
    comment: str = Field(default="", description="Why: recorded with the version.")


class ScriptSummary(BaseModel):
    id: int
    name: str
    description: str
    language: Language
    ssm_document: str = Field(description="The SSM document the script runs with.")
    tags: list[str]
    current_version: int
    sha256: str = Field(description="The current version's content hash.")
    archived: bool
    updated_by: str
    updated_at: datetime


class ScriptOut(ScriptSummary):
    body: str
    parameters: list[ParameterSpecOut]
    created_by: str
    created_at: datetime
    archived_at: datetime | None
    archived_by: str | None


class VersionSummary(BaseModel):
    number: int
    sha256: str
    content_changed: bool = Field(
        description="The sha256 differs from the previous version's (true for version 1)."
    )
    comment: str
    created_by: str
    created_at: datetime


class VersionOut(BaseModel):
    script_id: int
    number: int
    name: str
    description: str
    tags: list[str]
    language: Language
    ssm_document: str
    body: str
    parameters: list[ParameterSpecOut]
    sha256: str
    comment: str
    created_by: str
    created_at: datetime


class FieldChangeOut(BaseModel):
    field: str
    before: Any
    after: Any


class ParameterChangeOut(BaseModel):
    name: str
    change: Literal["added", "removed", "changed"]
    before: ParameterSpecOut | None
    after: ParameterSpecOut | None
    fields: list[str] = Field(description="For `changed`: the keys whose values differ.")


class DiffOut(BaseModel):
    script_id: int
    from_version: int
    to_version: int
    from_sha256: str
    to_sha256: str
    content_changed: bool
    body_diff: str = Field(description="A unified diff of the bodies; empty when equal.")
    fields: list[FieldChangeOut] = Field(
        description="Changes to name, description, tags, language."
    )
    parameters: list[ParameterChangeOut]
    parameters_reordered: bool


def script_summary(script: AwsSrScript) -> ScriptSummary:
    assert script.id is not None
    return ScriptSummary(
        id=script.id,
        name=script.name,
        description=script.description,
        language=script.language,
        ssm_document=LANGUAGES[script.language],
        tags=list(script.tags),
        current_version=script.current_version,
        sha256=script.current_sha256,
        archived=script.archived,
        updated_by=script.updated_by,
        updated_at=script.updated_at,
    )


def script_out(script: AwsSrScript, version: AwsSrScriptVersion) -> ScriptOut:
    return ScriptOut(
        **script_summary(script).model_dump(),
        body=version.body,
        parameters=[ParameterSpecOut(**spec) for spec in version.parameters],
        created_by=script.created_by,
        created_at=script.created_at,
        archived_at=script.archived_at,
        archived_by=script.archived_by,
    )


def version_summary(version: AwsSrScriptVersion, content_changed: bool) -> VersionSummary:
    return VersionSummary(
        number=version.number,
        sha256=version.sha256,
        content_changed=content_changed,
        comment=version.comment,
        created_by=version.created_by,
        created_at=version.created_at,
    )


def version_out(version: AwsSrScriptVersion) -> VersionOut:
    return VersionOut(
        script_id=version.script_id,
        number=version.number,
        name=version.name,
        description=version.description,
        tags=list(version.tags),
        language=version.language,
        ssm_document=LANGUAGES[version.language],
        body=version.body,
        parameters=[ParameterSpecOut(**spec) for spec in version.parameters],
        sha256=version.sha256,
        comment=version.comment,
        created_by=version.created_by,
        created_at=version.created_at,
    )


def diff_out(diff: VersionDiff) -> DiffOut:
    return DiffOut(
        script_id=diff.script_id,
        from_version=diff.from_version,
        to_version=diff.to_version,
        from_sha256=diff.from_sha256,
        to_sha256=diff.to_sha256,
        content_changed=diff.content_changed,
        body_diff=diff.body_diff,
        fields=[FieldChangeOut(field=c.field, before=c.before, after=c.after) for c in diff.fields],
        parameters=[
            ParameterChangeOut(
                name=change.name,
                change=change.change,
                before=ParameterSpecOut(**change.before) if change.before else None,
                after=ParameterSpecOut(**change.after) if change.after else None,
                fields=list(change.fields),
            )
            for change in diff.parameters
        ],
        parameters_reordered=diff.parameters_reordered,
    )
