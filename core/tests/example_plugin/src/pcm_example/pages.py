"""The example plugin's web pages, mounted under ``/tools/example/notes``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from pcm_example import services
from pcm_ops.api.deps import DbSession
from pcm_ops.security import require
from pcm_ops.web import render

router = APIRouter(dependencies=[require("example:notes.read")])


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, session: DbSession) -> HTMLResponse:
    notes = await services.list_notes(session)
    return render(request, "example/index.html", {"notes": notes})
