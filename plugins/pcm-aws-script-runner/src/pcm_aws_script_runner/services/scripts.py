"""The script library: creating scripts, saving new versions, archiving, and reading them.

Every save (:func:`create_script`, :func:`update_script`) writes a new immutable
:class:`~pcm_aws_script_runner.models.AwsSrScriptVersion` and moves the script's
``current_version`` to it; nothing here changes a version once written. Every change is
written to the audit log in the same transaction (``object_type`` ``script``; details: the
name, the version and its sha256, never parameter values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from pcm_aws_script_runner.config import SSM_CONTENT_LIMIT_BYTES
from pcm_aws_script_runner.ids import SCRIPT_ACTION
from pcm_aws_script_runner.models import AwsSrScript, AwsSrScriptVersion
from pcm_aws_script_runner.services.errors import Conflict, InvalidInput, NotFound
from pcm_aws_script_runner.services.validation import (
    CleanScript,
    ScriptDraft,
    clean_comment,
    clean_script,
)
from pcm_ops import audit
from pcm_ops.audit import Actor
from pcm_ops.db.types import utcnow

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = [
    "EDITABLE_FIELDS",
    "create_script",
    "find_script",
    "get_script",
    "get_version",
    "list_scripts",
    "list_versions",
    "set_archived",
    "update_script",
]

#: The fields a save may change (``comment`` describes the save itself).
EDITABLE_FIELDS = ("name", "description", "language", "body", "parameters", "tags")


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    script: AwsSrScript,
    details: Mapping[str, Any],
) -> None:
    await audit.record_by(
        session,
        actor,
        f"{SCRIPT_ACTION}.{action}",
        object_type="script",
        object_id=str(script.id),
        details=dict(details),
    )


# -------------------------------------------------------------------------------------------
# Reading
# -------------------------------------------------------------------------------------------


async def list_scripts(
    session: AsyncSession,
    *,
    search: str | None = None,
    tag: str | None = None,
    include_archived: bool = False,
    limit: int = 100,
    offset: int = 0,
    after: str | None = None,
) -> list[AwsSrScript]:
    """Scripts by name (case-insensitive order), a page at a time in the database.

    :param search: text the name or description contains (case-insensitive).
    :param tag: a tag the script carries.
    :param include_archived: list archived scripts too.
    :param after: keyset pagination: only scripts whose name (case-folded, the
        ``name_key`` of the last script of the previous page) sorts after it. Prefer it to
        ``offset``, which the database counts through.
    """
    statement = select(AwsSrScript).order_by(col(AwsSrScript.name_key))
    if not include_archived:
        statement = statement.where(col(AwsSrScript.archived).is_(False))
    if search and search.strip():
        text = search.strip()
        statement = statement.where(
            col(AwsSrScript.name).icontains(text, autoescape=True)
            | col(AwsSrScript.description).icontains(text, autoescape=True)
        )
    if not tag:
        if after is not None:
            statement = statement.where(col(AwsSrScript.name_key) > after)
        return list((await session.exec(statement.offset(offset).limit(limit))).all())
    # Tags are a JSON list, matched here so that the query is the same on SQLite and
    # PostgreSQL; the rows are read a page at a time by key, never all at once.
    wanted = tag.strip().lower()
    found: list[AwsSrScript] = []
    skip = offset
    while len(found) < limit:
        page_statement = statement
        if after is not None:
            page_statement = page_statement.where(col(AwsSrScript.name_key) > after)
        page = list((await session.exec(page_statement.limit(SCRIPTS_PAGE))).all())
        for row in page:
            if wanted not in row.tags:
                continue
            if skip:
                skip -= 1
                continue
            found.append(row)
            if len(found) == limit:
                break
        if len(page) < SCRIPTS_PAGE:
            break
        after = page[-1].name_key
    return found


#: Scripts read per query while filtering by tag.
SCRIPTS_PAGE = 200


async def all_tags(session: AsyncSession, *, include_archived: bool = False) -> list[str]:
    """Every tag some script carries, sorted."""
    rows = await list_scripts(session, include_archived=include_archived, limit=1_000_000)
    return sorted({tag for row in rows for tag in row.tags})


async def get_script(session: AsyncSession, script_id: int) -> AwsSrScript:
    """:raises NotFound: no script has this id."""
    script = await session.get(AwsSrScript, script_id)
    if script is None:
        raise NotFound(f"there is no script with id {script_id}")
    return script


async def find_script(session: AsyncSession, name_or_id: str) -> AwsSrScript:
    """The script named ``name_or_id`` (any case), or with that id if it is a number.

    :raises NotFound: neither exists.
    """
    key = name_or_id.strip().casefold()
    statement = select(AwsSrScript).where(AwsSrScript.name_key == key)
    script = (await session.exec(statement)).first()
    if script is None and key.isdigit():
        script = await session.get(AwsSrScript, int(key))
    if script is None:
        raise NotFound(
            f"there is no script named {name_or_id!r}; `pcm-ops script-runner scripts list` "
            "shows them"
        )
    return script


async def list_versions(session: AsyncSession, script_id: int) -> list[AwsSrScriptVersion]:
    """The versions of a script, newest first.

    :raises NotFound: no script has this id.
    """
    await get_script(session, script_id)
    statement = (
        select(AwsSrScriptVersion)
        .where(AwsSrScriptVersion.script_id == script_id)
        .order_by(col(AwsSrScriptVersion.number).desc())
    )
    return list((await session.exec(statement)).all())


async def get_version(session: AsyncSession, script_id: int, number: int) -> AwsSrScriptVersion:
    """:raises NotFound: no such script, or it has no version ``number``."""
    script = await get_script(session, script_id)
    statement = select(AwsSrScriptVersion).where(
        AwsSrScriptVersion.script_id == script_id, AwsSrScriptVersion.number == number
    )
    version = (await session.exec(statement)).first()
    if version is None:
        raise NotFound(
            f"script {script.name!r} has no version {number}; its versions are 1 to "
            f"{script.current_version}"
        )
    return version


async def current_version(session: AsyncSession, script: AwsSrScript) -> AwsSrScriptVersion:
    """The version a run of ``script`` uses."""
    assert script.id is not None
    return await get_version(session, script.id, script.current_version)


# -------------------------------------------------------------------------------------------
# Changing
# -------------------------------------------------------------------------------------------


async def _refuse_duplicate_name(
    session: AsyncSession, name: str, script_id: int | None = None
) -> None:
    statement = select(AwsSrScript).where(AwsSrScript.name_key == name.casefold())
    other = (await session.exec(statement)).first()
    if other is not None and other.id != script_id:
        raise Conflict(
            f"a script named {other.name!r} already exists (id {other.id}); names are unique "
            "regardless of case: choose another name or edit that script"
        )


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # Someone else saved the same name between our check and this insert.
        raise Conflict(f"a script named {name!r} already exists; choose another name") from None


def _new_version(
    script_id: int, number: int, clean: CleanScript, comment: str, actor: Actor
) -> AwsSrScriptVersion:
    return AwsSrScriptVersion(
        script_id=script_id,
        number=number,
        name=clean.name,
        description=clean.description,
        tags=list(clean.tags),
        language=clean.language,
        body=clean.body,
        parameters=[parameter.to_dict() for parameter in clean.parameters],
        sha256=clean.sha256,
        comment=comment,
        created_by=actor.name,
    )


def _details(script: AwsSrScript, version: AwsSrScriptVersion, **extra: Any) -> dict[str, Any]:
    return {"name": script.name, "version": version.number, "sha256": version.sha256, **extra}


async def create_script(
    session: AsyncSession,
    draft: ScriptDraft,
    actor: Actor,
    *,
    comment: Any = "",
    max_body_bytes: int = SSM_CONTENT_LIMIT_BYTES,
) -> tuple[AwsSrScript, AwsSrScriptVersion]:
    """Add a script with its first version.

    :raises InvalidInput: a field breaks a rule.
    :raises Conflict: a script with that name (in any case) exists.
    """
    clean = clean_script(draft, max_body_bytes=max_body_bytes)
    comment_text = clean_comment(comment)
    await _refuse_duplicate_name(session, clean.name)
    now = utcnow()
    script = AwsSrScript(
        name=clean.name,
        name_key=clean.name.casefold(),
        description=clean.description,
        language=clean.language,
        tags=list(clean.tags),
        current_version=1,
        current_sha256=clean.sha256,
        created_by=actor.name,
        created_at=now,
        updated_by=actor.name,
        updated_at=now,
    )
    session.add(script)
    await _flush(session, clean.name)
    assert script.id is not None
    version = _new_version(script.id, 1, clean, comment_text, actor)
    session.add(version)
    await session.flush()
    await _audit(session, actor, "create", script, _details(script, version))
    return script, version


async def update_script(
    session: AsyncSession,
    script_id: int,
    changes: Mapping[str, Any],
    actor: Actor,
    *,
    comment: Any = "",
    max_body_bytes: int = SSM_CONTENT_LIMIT_BYTES,
) -> tuple[AwsSrScript, AwsSrScriptVersion]:
    """Save a new version of a script: its current content with ``changes`` applied.

    Every call writes a version, even when only the description or tags change (the
    history then shows who changed them); its sha256 changes only when the language, body
    or parameters do.

    :param changes: field → new value, for some of :data:`EDITABLE_FIELDS`; fields left
        out keep their current value. ``parameters`` replaces the whole list.
    :raises NotFound: no script has this id.
    :raises Conflict: the script is archived, or the new name is taken.
    :raises InvalidInput: a field breaks a rule, or ``changes`` names an unknown field.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            (name, f"cannot be changed; editable: {', '.join(EDITABLE_FIELDS)}") for name in unknown
        )
    script = await get_script(session, script_id)
    if script.archived:
        raise Conflict(f"script {script.name!r} is archived; unarchive it before editing it")
    current = await current_version(session, script)
    merged = {
        "name": script.name,
        "description": script.description,
        "language": current.language,
        "body": current.body,
        "parameters": current.parameters,
        "tags": script.tags,
        **changes,
    }
    clean = clean_script(ScriptDraft(**merged), max_body_bytes=max_body_bytes)
    comment_text = clean_comment(comment)
    if clean.name.casefold() != script.name_key:
        await _refuse_duplicate_name(session, clean.name, script_id)
    previous_name = script.name
    number = script.current_version + 1
    version = _new_version(script_id, number, clean, comment_text, actor)
    session.add(version)
    script.name = clean.name
    script.name_key = clean.name.casefold()
    script.description = clean.description
    script.language = clean.language
    script.tags = list(clean.tags)
    script.current_version = number
    script.current_sha256 = clean.sha256
    script.updated_by = actor.name
    script.updated_at = utcnow()
    session.add(script)
    await _flush(session, clean.name)
    extra: dict[str, Any] = {"content_changed": clean.sha256 != current.sha256}
    if previous_name != script.name:
        extra["previous_name"] = previous_name
    await _audit(session, actor, "update", script, _details(script, version, **extra))
    return script, version


async def set_archived(
    session: AsyncSession, script_id: int, archived: bool, actor: Actor
) -> AwsSrScript:
    """Archive a script (it can no longer be run or edited; it stays readable, with its
    versions) or bring it back.

    :raises NotFound: no script has this id.
    :raises Conflict: it is already in that state.
    """
    script = await get_script(session, script_id)
    if script.archived == archived:
        state = "archived" if archived else "not archived"
        raise Conflict(f"script {script.name!r} is already {state}")
    script.archived = archived
    script.archived_at = utcnow() if archived else None
    script.archived_by = actor.name if archived else None
    session.add(script)
    await session.flush()
    await _audit(
        session,
        actor,
        "archive" if archived else "unarchive",
        script,
        {"name": script.name, "version": script.current_version, "sha256": script.current_sha256},
    )
    return script


def version_pairs(versions: Sequence[AwsSrScriptVersion]) -> list[tuple[AwsSrScriptVersion, bool]]:
    """Each version (newest first, as :func:`list_versions` gives them) with whether its
    content differs from the version before it (the first version counts as changed)."""
    by_number = {version.number: version for version in versions}
    pairs = []
    for version in versions:
        previous = by_number.get(version.number - 1)
        pairs.append((version, previous is None or previous.sha256 != version.sha256))
    return pairs
