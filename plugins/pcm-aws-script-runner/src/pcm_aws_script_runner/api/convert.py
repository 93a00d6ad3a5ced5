"""Table rows to response models."""

from __future__ import annotations

from pcm_aws_script_runner.models import AwsSrScript, AwsSrScriptVersion
from pcm_aws_script_runner.schemas import (
    DiffOut,
    FieldChangeOut,
    ParameterChangeOut,
    ParameterSpecOut,
    ScriptOut,
    ScriptSummary,
    VersionOut,
    VersionSummary,
)
from pcm_aws_script_runner.services.diff import VersionDiff
from pcm_aws_script_runner.services.validation import LANGUAGES


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
