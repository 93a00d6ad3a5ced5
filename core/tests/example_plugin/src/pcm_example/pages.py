"""The example plugin's web pages, mounted under ``/tools/example/notes``: the notes, and a
form that adds one (posted with the session's CSRF token; problems shown by field)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pcm_example import services
from pcm_ops.api.deps import DbSession
from pcm_ops.security import Principal, require
from pcm_ops.web import flash, render

router = APIRouter()
BASE = "/tools/example/notes"


async def _page(
    request: Request,
    session: DbSession,
    form: dict[str, str] | None = None,
    problems: list[tuple[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    notes = await services.list_notes(session)
    context = {"notes": notes, "form": form or {}, "problems": problems or [], "base": BASE}
    return render(request, "example/index.html", context, status_code=status_code)


@router.get("/", response_class=HTMLResponse, dependencies=[require("example:notes.read")])
async def index(request: Request, session: DbSession) -> HTMLResponse:
    return await _page(request, session)


@router.post("/", response_class=HTMLResponse)
async def add_note(
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require("example:notes.write")],
) -> Response:
    data = await request.form()
    form = {name: str(data.get(name, "")).strip() for name in ("title", "body")}
    problems = []
    if not form["title"]:
        problems.append(("title", "give the note a title"))
    elif len(form["title"]) > 200:
        problems.append(("title", "at most 200 characters"))
    if len(form["body"]) > 2000:
        problems.append(("body", "at most 2000 characters"))
    if problems:
        return await _page(request, session, form, problems, status_code=422)
    limit = request.app.state.example_counter.limit
    try:
        note = await services.add_note(session, form["title"], form["body"], limit)
    except services.TooManyNotes as exc:
        return await _page(request, session, form, [("title", str(exc))], status_code=409)
    flash(request, f"Note {note.title!r} added.", "success")
    return RedirectResponse(f"{BASE}/", status_code=303)
