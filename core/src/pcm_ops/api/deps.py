"""Dependencies shared by core's and plugins' routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for the request: committed when the route returns normally,
    rolled back when it raises.

    It is used with ``scope="function"`` (see :data:`DbSession`): the commit happens after
    the route function returns and *before* the response is sent, so a 2xx answer means
    the write is committed and visible to the next request on any connection, and a commit
    that fails is an error answer, never a 2xx.
    """
    async with request.app.state.database.session() as session:
        yield session


#: ``session: DbSession`` in a route's parameters gives it a database session, committed
#: before the response is sent.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
