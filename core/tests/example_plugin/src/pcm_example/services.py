"""The example plugin's logic, with no FastAPI in it: usable from the API, pages, CLI and
jobs alike."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_example.models import ExampleNote


class TooManyNotes(Exception):
    """The plugin's ``max_notes`` setting is reached."""


@dataclass
class NoteCounter:
    """Created at start-up (``pcm_ops_startup``) and kept on ``app.state``."""

    limit: int


async def list_notes(session: AsyncSession) -> list[ExampleNote]:
    statement = select(ExampleNote).order_by(col(ExampleNote.id))
    return list((await session.exec(statement)).all())


async def add_note(session: AsyncSession, title: str, body: str, limit: int) -> ExampleNote:
    count = (await session.exec(select(func.count()).select_from(ExampleNote))).one()
    if count >= limit:
        raise TooManyNotes(f"there are already {count} notes (max_notes = {limit})")
    note = ExampleNote(title=title, body=body)
    session.add(note)
    await session.flush()
    return note
