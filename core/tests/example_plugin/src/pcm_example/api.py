"""The example plugin's JSON API, mounted under ``/api/tools/example/notes``.

Paths are relative to that prefix. Every route declares the permission it needs with
``require``; core refuses to mount a route that declares none.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from pcm_example import services
from pcm_example.schemas import Greetings, NoteIn, NoteOut
from pcm_ops.api.deps import DbSession
from pcm_ops.security import require

router = APIRouter()


@router.get(
    "/notes",
    response_model=list[NoteOut],
    summary="List notes",
    dependencies=[require("example:notes.read")],
)
async def list_notes(session: DbSession) -> Any:
    return await services.list_notes(session)


@router.post(
    "/notes",
    response_model=NoteOut,
    status_code=201,
    summary="Add a note",
    dependencies=[require("example:notes.write")],
)
async def add_note(note: NoteIn, request: Request, session: DbSession) -> Any:
    limit = request.app.state.example_counter.limit
    try:
        return await services.add_note(session, note.title, note.body, limit)
    except services.TooManyNotes as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.get(
    "/greetings",
    response_model=Greetings,
    summary="Greetings from every plugin that implements example_greeting",
    dependencies=[require("example:notes.read")],
)
async def greetings(request: Request, name: str = "operator") -> Any:
    hook = request.app.state.registry.manager.hook.example_greeting
    return Greetings(greetings=hook(name=name))
