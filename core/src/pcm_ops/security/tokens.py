"""API tokens: random, shown once, stored only as a SHA-256 hash, scoped and expiring."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_ops.db.types import utcnow
from pcm_ops.errors import PcmOpsError
from pcm_ops.security.models import ApiToken, User

TOKEN_PREFIX = "pcm_"  # noqa: S105 - a public marker, not a secret
MAX_LIFETIME_DAYS = 366
#: Recording every use would write on every request; once a minute tells enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(PcmOpsError):
    """A token request that cannot be granted; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.problem = message
        super().__init__(f"{field}: {message}")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str


async def create_token(
    session: AsyncSession,
    user: User,
    name: str,
    scopes: list[str],
    user_permissions: frozenset[str],
    expires_in_days: int | None,
) -> IssuedToken:
    """Issue a token for ``user``. ``scopes`` must be a subset of the user's permissions."""
    if not name.strip() or len(name) > 100:
        raise TokenError("name", "must be 1 to 100 characters")
    if not scopes:
        raise TokenError("scopes", "must list at least one permission")
    beyond = sorted(set(scopes) - user_permissions)
    if beyond:
        raise TokenError(
            "scopes", f"{', '.join(beyond)} not held by user {user.username!r} (role {user.role})"
        )
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise TokenError("expires_in_days", f"must be between 1 and {MAX_LIFETIME_DAYS}")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id or 0,
        name=name.strip(),
        token_hash=hash_token(raw),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        scopes=sorted(set(scopes)),
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    await session.flush()
    return IssuedToken(token=token, raw=raw)


async def resolve_token(session: AsyncSession, raw: str) -> tuple[ApiToken, User] | None:
    """The live token and its enabled user for ``raw``, or ``None``; records its last use."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    row = (
        await session.exec(
            select(ApiToken, User)
            .join(User, col(User.id) == col(ApiToken.user_id))
            .where(ApiToken.token_hash == hash_token(raw))
        )
    ).first()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or user.disabled:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.add(token)
        await session.commit()
    return token, user


async def list_tokens(session: AsyncSession, user_id: int | None = None) -> list[ApiToken]:
    statement = select(ApiToken).order_by(col(ApiToken.id))
    if user_id is not None:
        statement = statement.where(ApiToken.user_id == user_id)
    return list((await session.exec(statement)).all())


async def revoke_token(session: AsyncSession, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        await session.flush()
    return token


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"
