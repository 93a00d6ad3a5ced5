"""Users: creation, roles, disabling, and password login with throttling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_ops.db.types import utcnow
from pcm_ops.errors import PcmOpsError
from pcm_ops.security.models import LoginFailure, User
from pcm_ops.security.passwords import (
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
    verify_unknown_user,
)
from pcm_ops.security.permissions import ROLES

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")


class UserError(PcmOpsError):
    """A user operation that cannot be done; names the field and the problem."""

    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        self.field = field
        self.status_code = status_code
        super().__init__(f"{field}: {message}")


class LoginThrottled(PcmOpsError):
    """Too many failed logins for this account or address; try again later."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError("role", f"must be one of {', '.join(ROLES)}, not {role!r}")
    return role


async def get_user(session: AsyncSession, username: str) -> User | None:
    return (await session.exec(select(User).where(User.username == username))).first()


async def create_user(session: AsyncSession, username: str, password: str, role: str) -> User:
    if not _USERNAME.match(username):
        raise UserError(
            "username", "1-150 letters, digits and . _ @ -, starting with a letter or digit"
        )
    check_role(role)
    problem = check_password_strength(password)
    if problem:
        raise UserError("password", problem)
    if await get_user(session, username) is not None:
        raise UserError("username", f"user {username!r} already exists", status_code=409)
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.exec(select(User).order_by(col(User.username)))).all())


async def count_admins(session: AsyncSession) -> int:
    statement = (
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", col(User.disabled).is_(False))
    )
    return int((await session.exec(statement)).one())


@dataclass(frozen=True)
class Throttle:
    max_per_account: int
    max_per_address: int
    window: timedelta


async def check_throttle(
    session: AsyncSession, throttle: Throttle, username: str, address: str
) -> None:
    """Raise :class:`LoginThrottled` when the account or the address failed too often."""
    now = utcnow()
    since = now - throttle.window
    for column, value, limit in (
        (col(LoginFailure.username), username.lower(), throttle.max_per_account),
        (col(LoginFailure.client_address), address, throttle.max_per_address),
    ):
        recent = (
            await session.exec(
                select(LoginFailure.at)
                .where(column == value, col(LoginFailure.at) >= since)
                .order_by(col(LoginFailure.at).desc())
                .limit(limit)
            )
        ).all()
        if len(recent) >= limit:
            # Allowed again once the oldest of the last `limit` failures leaves the window.
            retry = int((recent[-1] + throttle.window - now).total_seconds()) + 1
            raise LoginThrottled(max(retry, 1))


async def authenticate(
    session: AsyncSession, throttle: Throttle, username: str, password: str, address: str
) -> User | None:
    """The user if ``password`` is right and the user enabled; records failures.

    :raises LoginThrottled: before checking the password, when over the limits.
    """
    await check_throttle(session, throttle, username, address)
    user = await get_user(session, username)
    if user is None:
        verify_unknown_user(password)
    elif verify_password(user.password_hash, password) and not user.disabled:
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        session.add(user)
        await session.exec(
            delete(LoginFailure).where(col(LoginFailure.username) == username.lower())
        )
        return user
    session.add(LoginFailure(username=username.lower(), client_address=address))
    await session.exec(
        delete(LoginFailure).where(col(LoginFailure.at) < utcnow() - throttle.window * 4)
    )
    return None
