"""Dependencies shared by core's and plugins' routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for the request: committed when the route returns normally,
    rolled back when it raises."""
    async with request.app.state.database.session() as session:
        yield session


#: ``session: DbSession`` in a route's parameters gives it a database session.
DbSession = Annotated[AsyncSession, Depends(get_session)]
