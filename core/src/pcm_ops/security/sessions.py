"""Browser sessions: a server-side row per session; the cookie holds only an opaque id."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_ops.db.types import utcnow
from pcm_ops.security.models import User, WebSession

COOKIE_NAME = "pcm_session"
#: Updating last_seen on every request would write on every click; a minute is precise
#: enough for an idle timeout counted in minutes.
TOUCH_RESOLUTION = timedelta(minutes=1)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def create_session(
    session: AsyncSession,
    user: User,
    client_address: str | None,
    user_agent: str | None,
) -> tuple[str, WebSession]:
    """Start a session for ``user``; returns the cookie value (a new id on every login)."""
    session_id = secrets.token_urlsafe(32)
    row = WebSession(
        session_hash=_hash(session_id),
        user_id=user.id or 0,
        csrf_token=secrets.token_urlsafe(32),
        client_address=client_address,
        user_agent=(user_agent or "")[:255] or None,
    )
    session.add(row)
    await session.flush()
    return session_id, row


async def resolve_session(
    session: AsyncSession, session_id: str, idle: timedelta, absolute: timedelta
) -> tuple[WebSession, User] | None:
    """The live session and its enabled user, or ``None`` (expired ones are deleted)."""
    result = (
        await session.exec(
            select(WebSession, User)
            .join(User, col(User.id) == col(WebSession.user_id))
            .where(WebSession.session_hash == _hash(session_id))
        )
    ).first()
    if result is None:
        return None
    row, user = result
    now = utcnow()
    if user.disabled or now - row.last_seen_at > idle or now - row.created_at > absolute:
        await session.delete(row)
        await session.commit()
        return None
    if now - row.last_seen_at > TOUCH_RESOLUTION:
        row.last_seen_at = now
        session.add(row)
        await session.commit()
    return row, user


async def end_session(session: AsyncSession, session_id: str) -> None:
    await session.exec(delete(WebSession).where(col(WebSession.session_hash) == _hash(session_id)))


async def end_user_sessions(session: AsyncSession, user_id: int) -> None:
    """Log a user out everywhere (on disable and role change)."""
    await session.exec(delete(WebSession).where(col(WebSession.user_id) == user_id))
