"""The script library's pages: the list, the editor, versions and diffs, under
``/tools/aws/script-runner/scripts``.

Pages read and write through the same services as the JSON API. Forms carry the session's
CSRF token in a hidden ``csrf_token`` field; core checks it before a route runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pcm_aws_script_runner.dependencies import Config
from pcm_aws_script_runner.ids import MANAGE_SCRIPTS, READ
from pcm_aws_script_runner.services import scripts
from pcm_aws_script_runner.services.diff import diff_versions
from pcm_aws_script_runner.services.errors import Conflict, InvalidInput
from pcm_aws_script_runner.services.parameters import MAX_PARAMETERS
from pcm_aws_script_runner.services.validation import ScriptDraft
from pcm_aws_script_runner.web.common import BASE, page
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import Id, PathId
from pcm_ops.audit import Actor
from pcm_ops.security import Principal, require
from pcm_ops.web import flash

router = APIRouter()


_PARAMETER_FIELD = re.compile(r"^parameters-(\d{1,3})-([a-z]+)$")
_ROW_KEYS = ("name", "type", "description", "default", "required", "secret", "choices")


# -------------------------------------------------------------------------------------------
# The editor form
# -------------------------------------------------------------------------------------------


@dataclass
class ParameterRow:
    """One row of the editor's parameter table, as typed (text)."""

    name: str = ""
    type: str = "string"
    description: str = ""
    default: str = ""
    required: bool = False
    secret: bool = False
    choices: str = ""

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> ParameterRow:
        default = spec.get("default")
        if isinstance(default, bool):
            default_text = "true" if default else "false"
        else:
            default_text = "" if default is None else str(default)
        return cls(
            name=spec.get("name", ""),
            type=spec.get("type", "string"),
            description=spec.get("description", ""),
            default=default_text,
            required=bool(spec.get("required")),
            secret=bool(spec.get("secret")),
            choices=", ".join(spec.get("choices") or ()),
        )

    def to_parameter(self) -> dict[str, Any]:
        """The parameter as the services take it; text converted by type where it can be
        (what cannot is left as text, and validation says what is wrong with it)."""
        return {
            "name": self.name.strip(),
            "type": self.type,
            "description": self.description,
            "default": _typed_default(self.type, self.default),
            "required": self.required,
            "secret": self.secret,
            "choices": [c.strip() for c in self.choices.split(",") if c.strip()],
        }


def _typed_default(kind: str, text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    # 19 digits at most: int() refuses thousands of them, and a longer number is no int64.
    if kind == "integer" and re.fullmatch(r"[+-]?\d{1,19}", text):
        return int(text)
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


@dataclass
class EditorForm:
    """The editor's values, as typed, and the problems found with them."""

    name: str = ""
    description: str = ""
    language: str = "shell"
    body: str = ""
    tags: str = ""
    comment: str = ""
    parameters: list[ParameterRow] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> EditorForm:
        def text(key: str) -> str:
            value = form.get(key, "")
            return value if isinstance(value, str) else ""

        rows: dict[int, dict[str, Any]] = {}
        for key in form:
            match = _PARAMETER_FIELD.match(key)
            if match and match.group(2) in _ROW_KEYS:
                rows.setdefault(int(match.group(1)), {})[match.group(2)] = text(key)
        parameters = [
            ParameterRow(
                name=row.get("name", ""),
                type=row.get("type", "string"),
                description=row.get("description", ""),
                default=row.get("default", ""),
                required="required" in row,
                secret="secret" in row,
                choices=row.get("choices", ""),
            )
            for _, row in sorted(rows.items())
        ]
        return cls(
            name=text("name"),
            description=text("description"),
            language=text("language"),
            body=text("body"),
            tags=text("tags"),
            comment=text("comment"),
            parameters=parameters,
        )

    @classmethod
    def of_script(cls, script: Any, version: Any) -> EditorForm:
        return cls(
            name=script.name,
            description=script.description,
            language=version.language,
            body=version.body,
            tags=", ".join(script.tags),
            parameters=[ParameterRow.of(spec) for spec in version.parameters],
        )

    def draft(self) -> ScriptDraft:
        return ScriptDraft(
            name=self.name,
            description=self.description,
            language=self.language,
            body=self.body,
            parameters=[row.to_parameter() for row in self.parameters],
            tags=[tag.strip() for tag in self.tags.split(",") if tag.strip()],
        )

    def errors_for(self, name: str) -> list[str]:
        return [
            message
            for where, message in self.problems
            if where == name or where.startswith((f"{name}[", f"{name}."))
        ]

    def label(self, where: str) -> str:
        """A problem's field as the form shows it: ``parameters[1].default`` reads
        ``parameter 'mode' (row 2), default``."""
        match = re.match(r"^parameters\[(\d+)\](?:\.(\w+))?", where)
        if match is None:
            return where
        index = int(match.group(1))
        name = self.parameters[index].name if index < len(self.parameters) else ""
        who = f"parameter {name!r}" if name else "parameter"
        suffix = f", {match.group(2)}" if match.group(2) else ""
        return f"{who} (row {index + 1}){suffix}"


def _editor(
    request: Request,
    form: EditorForm,
    *,
    script: Any = None,
    status: int = 200,
) -> Any:
    action = f"{BASE}/scripts/{script.id}/edit" if script is not None else f"{BASE}/scripts/new"
    return page(
        request,
        "editor.html",
        {
            "form": form,
            "script": script,
            "action": action,
            "max_parameters": MAX_PARAMETERS,
        },
        status=status,
    )


# -------------------------------------------------------------------------------------------
# Pages
# -------------------------------------------------------------------------------------------


@router.get("/", dependencies=[require(READ)])
async def index() -> RedirectResponse:
    return RedirectResponse(f"{BASE}/scripts", status_code=303)


@router.get("/scripts", response_class=HTMLResponse, dependencies=[require(READ)])
async def script_list(
    request: Request,
    session: DbSession,
    q: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
    archived: bool = False,
) -> Any:
    rows = await scripts.list_scripts(
        session, search=q or None, tag=tag or None, include_archived=archived, limit=500
    )
    tags = await scripts.all_tags(session, include_archived=archived)
    return page(
        request,
        "scripts.html",
        {"scripts": rows, "q": q, "tag": tag, "archived": archived, "tags": tags},
    )


@router.get("/scripts/new", response_class=HTMLResponse, dependencies=[require(MANAGE_SCRIPTS)])
async def new_script(request: Request) -> Any:
    return _editor(request, EditorForm())


@router.post("/scripts/new", response_class=HTMLResponse)
async def create_script(
    request: Request,
    session: DbSession,
    config: Config,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Any:
    form = EditorForm.from_form(await request.form())
    try:
        script, _ = await scripts.create_script(
            session,
            form.draft(),
            Actor.from_principal(principal, request),
            comment=form.comment,
            max_body_bytes=config.max_script_bytes,
        )
    except InvalidInput as exc:
        form.problems = exc.problems
        return _editor(request, form, status=422)
    except Conflict as exc:
        form.problems = [("name", str(exc))]
        return _editor(request, form, status=409)
    flash(request, f"Script {script.name!r} saved as version 1.", "success")
    return RedirectResponse(f"{BASE}/scripts/{script.id}", status_code=303)


@router.get("/scripts/{script_id}", response_class=HTMLResponse, dependencies=[require(READ)])
async def script_detail(request: Request, script_id: PathId, session: DbSession) -> Any:
    script = await scripts.get_script(session, script_id)
    version = await scripts.current_version(session, script)
    versions = await scripts.list_versions(session, script_id)
    return page(
        request,
        "script.html",
        {
            "script": script,
            "version": version,
            "versions": scripts.version_pairs(versions),
        },
    )


@router.get(
    "/scripts/{script_id}/edit",
    response_class=HTMLResponse,
    dependencies=[require(MANAGE_SCRIPTS)],
)
async def edit_script(request: Request, script_id: PathId, session: DbSession) -> Any:
    script = await scripts.get_script(session, script_id)
    version = await scripts.current_version(session, script)
    form = EditorForm.of_script(script, version)
    if script.archived:
        form.problems = [("script", "This script is archived: unarchive it before editing it.")]
    return _editor(request, form, script=script)


@router.post("/scripts/{script_id}/edit", response_class=HTMLResponse)
async def save_script(
    request: Request,
    script_id: PathId,
    session: DbSession,
    config: Config,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Any:
    script = await scripts.get_script(session, script_id)
    form = EditorForm.from_form(await request.form())
    draft = form.draft()
    changes = {name: getattr(draft, name) for name in scripts.EDITABLE_FIELDS}
    try:
        script, version = await scripts.update_script(
            session,
            script_id,
            changes,
            Actor.from_principal(principal, request),
            comment=form.comment,
            max_body_bytes=config.max_script_bytes,
        )
    except InvalidInput as exc:
        form.problems = exc.problems
        return _editor(request, form, script=script, status=422)
    except Conflict as exc:
        form.problems = [("script", str(exc))]
        return _editor(request, form, script=script, status=409)
    flash(request, f"Script {script.name!r} saved as version {version.number}.", "success")
    return RedirectResponse(f"{BASE}/scripts/{script.id}", status_code=303)


async def _set_archived(
    request: Request, script_id: int, session: Any, principal: Principal, archived: bool
) -> Response:
    try:
        script = await scripts.set_archived(
            session, script_id, archived, Actor.from_principal(principal, request)
        )
    except Conflict as exc:
        flash(request, str(exc), "warning")
    else:
        state = "archived" if archived else "unarchived"
        flash(request, f"Script {script.name!r} {state}.", "success")
    return RedirectResponse(f"{BASE}/scripts/{script_id}", status_code=303)


@router.post("/scripts/{script_id}/archive")
async def archive_script(
    request: Request,
    script_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Response:
    await scripts.get_script(session, script_id)
    return await _set_archived(request, script_id, session, principal, True)


@router.post("/scripts/{script_id}/unarchive")
async def unarchive_script(
    request: Request,
    script_id: PathId,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE_SCRIPTS)],
) -> Response:
    await scripts.get_script(session, script_id)
    return await _set_archived(request, script_id, session, principal, False)


@router.get(
    "/scripts/{script_id}/versions/{number}",
    response_class=HTMLResponse,
    dependencies=[require(READ)],
)
async def version_detail(
    request: Request, script_id: PathId, number: PathId, session: DbSession
) -> Any:
    script = await scripts.get_script(session, script_id)
    version = await scripts.get_version(session, script_id, number)
    return page(request, "version.html", {"script": script, "version": version})


@router.get("/scripts/{script_id}/diff", response_class=HTMLResponse, dependencies=[require(READ)])
async def diff_page(
    request: Request,
    script_id: PathId,
    session: DbSession,
    from_version: Annotated[Id | None, Query(alias="from")] = None,
    to_version: Annotated[Id | None, Query(alias="to")] = None,
) -> Any:
    script = await scripts.get_script(session, script_id)
    newer = to_version or script.current_version
    older = from_version or max(newer - 1, 1)
    old = await scripts.get_version(session, script_id, older)
    new = await scripts.get_version(session, script_id, newer)
    diff = diff_versions(old, new)
    return page(
        request,
        "diff.html",
        {
            "script": script,
            "diff": diff,
            "numbers": list(range(script.current_version, 0, -1)),
            "diff_lines": _classified(diff.body_diff),
        },
    )


def _classified(unified: str) -> list[tuple[str, str]]:
    """Each line of a unified diff with the CSS modifier that colours it."""
    lines = []
    for line in unified.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "added"
        elif line.startswith("-"):
            kind = "removed"
        else:
            kind = "context"
        lines.append((kind, line))
    return lines
