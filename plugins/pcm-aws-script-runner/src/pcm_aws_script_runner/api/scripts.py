"""``/scripts``: the script library, its immutable versions and diffs between them.

Reading needs ``aws-script-runner:read``; creating, editing (a new version), archiving and
unarchiving need ``aws-script-runner:scripts.manage``. No route changes or deletes a
version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from pcm_aws_script_runner.api.errors import RESPONSES
from pcm_aws_script_runner.api.schemas.scripts import (
    DiffOut,
    ScriptIn,
    ScriptOut,
    ScriptPatch,
    ScriptSummary,
    VersionOut,
    VersionSummary,
    diff_out,
    script_out,
    script_summary,
    version_out,
    version_summary,
)
from pcm_aws_script_runner.dependencies import Config
from pcm_aws_script_runner.ids import MANAGE_SCRIPTS, READ
from pcm_aws_script_runner.services import scripts
from pcm_aws_script_runner.services.diff import diff_versions
from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.validation import ScriptDraft
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import Id, Offset, PathId
from pcm_ops.audit import Actor
from pcm_ops.security import Principal, require

# No tags: core tags every route of a plugin with its display name.
router = APIRouter(prefix="/scripts", responses=RESPONSES)

ScriptId = Annotated[PathId, Path(description="The script's id.")]
VersionNumber = Annotated[PathId, Path(description="The version number (1, 2, …).")]


@router.get(
    "",
    response_model=list[ScriptSummary],
    summary="List scripts",
    dependencies=[require(READ)],
)
async def list_scripts(
    session: DbSession,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the name or description.")
    ] = None,
    tag: Annotated[str | None, Query(max_length=50, description="A tag the script has.")] = None,
    include_archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> Any:
    rows = await scripts.list_scripts(
        session,
        search=q,
        tag=tag,
        include_archived=include_archived,
        limit=limit,
        offset=offset,
    )
    return [script_summary(row) for row in rows]


@router.post(
    "",
    response_model=ScriptOut,
    status_code=201,
    summary="Add a script (its version 1)",
)
async def create_script(
    body: ScriptIn,
    request: Request,
    session: DbSession,
    config: Config,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Any:
    draft = ScriptDraft(
        name=body.name,
        description=body.description,
        language=body.language,
        body=body.body,
        parameters=[parameter.model_dump() for parameter in body.parameters],
        tags=body.tags,
    )
    script, version = await scripts.create_script(
        session,
        draft,
        Actor.from_principal(principal, request),
        comment=body.comment,
        max_body_bytes=config.max_script_bytes,
    )
    return script_out(script, version)


@router.get(
    "/{script_id}",
    response_model=ScriptOut,
    summary="A script with its current version's content",
    dependencies=[require(READ)],
)
async def get_script(script_id: ScriptId, session: DbSession) -> Any:
    script = await scripts.get_script(session, script_id)
    version = await scripts.current_version(session, script)
    return script_out(script, version)


@router.patch(
    "/{script_id}",
    response_model=ScriptOut,
    summary="Save a new version of a script",
    description="The fields given replace the current ones; the others are kept. Every "
    "call writes a new, immutable version; its sha256 changes only when the language, "
    "body or parameters change. Archived scripts cannot be edited (409).",
)
async def update_script(
    script_id: ScriptId,
    body: ScriptPatch,
    request: Request,
    session: DbSession,
    config: Config,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Any:
    given = sorted(body.model_fields_set - {"comment"})
    changes: dict[str, Any] = {name: getattr(body, name) for name in given}
    if "parameters" in changes and body.parameters is not None:
        changes["parameters"] = [parameter.model_dump() for parameter in body.parameters]
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise InvalidInput(
            (name, "must not be null; leave the field out to keep its value") for name in nulls
        )
    script, version = await scripts.update_script(
        session,
        script_id,
        changes,
        Actor.from_principal(principal, request),
        comment=body.comment,
        max_body_bytes=config.max_script_bytes,
    )
    return script_out(script, version)


@router.post(
    "/{script_id}/archive",
    response_model=ScriptOut,
    summary="Archive a script: it stays readable but cannot be run or edited",
)
async def archive_script(
    script_id: ScriptId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Any:
    script = await scripts.set_archived(
        session, script_id, True, Actor.from_principal(principal, request)
    )
    version = await scripts.current_version(session, script)
    return script_out(script, version)


@router.post(
    "/{script_id}/unarchive",
    response_model=ScriptOut,
    summary="Bring an archived script back",
)
async def unarchive_script(
    script_id: ScriptId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Any:
    script = await scripts.set_archived(
        session, script_id, False, Actor.from_principal(principal, request)
    )
    version = await scripts.current_version(session, script)
    return script_out(script, version)


@router.get(
    "/{script_id}/versions",
    response_model=list[VersionSummary],
    summary="A script's versions, newest first",
    dependencies=[require(READ)],
)
async def list_versions(script_id: ScriptId, session: DbSession) -> Any:
    versions = await scripts.list_versions(session, script_id)
    return [version_summary(v, changed) for v, changed in scripts.version_pairs(versions)]


@router.get(
    "/{script_id}/versions/{number}",
    response_model=VersionOut,
    summary="One version of a script, as it was saved",
    dependencies=[require(READ)],
)
async def get_version(script_id: ScriptId, number: VersionNumber, session: DbSession) -> Any:
    version = await scripts.get_version(session, script_id, number)
    return version_out(version)


@router.get(
    "/{script_id}/diff",
    response_model=DiffOut,
    summary="What changed between two versions",
    description="`to` defaults to the current version and `from` to the version before "
    "`to`. The body diff is a unified diff; parameter changes are listed one by one.",
    dependencies=[require(READ)],
)
async def diff(
    script_id: ScriptId,
    session: DbSession,
    from_version: Annotated[Id | None, Query(alias="from")] = None,
    to_version: Annotated[Id | None, Query(alias="to")] = None,
) -> Any:
    script = await scripts.get_script(session, script_id)
    newer = to_version or script.current_version
    older = from_version or max(newer - 1, 1)
    old = await scripts.get_version(session, script_id, older)
    new = await scripts.get_version(session, script_id, newer)
    return diff_out(diff_versions(old, new))
