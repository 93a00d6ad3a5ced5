"""What the example API accepts and returns, separate from the table model."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=2000)


class NoteOut(BaseModel):
    id: int
    title: str
    body: str
    created_at: datetime


class Greetings(BaseModel):
    greetings: list[str]
