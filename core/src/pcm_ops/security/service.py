"""User-account changes shared by the API and the CLI, audited in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_ops import audit
from pcm_ops.security.models import User
from pcm_ops.security.sessions import end_user_sessions
from pcm_ops.security.users import UserError, check_role, count_admins, get_user

if TYPE_CHECKING:
    from starlette.requests import Request

    from pcm_ops.security.principal import Principal


@dataclass(frozen=True)
class UserChange:
    role: str | None = None
    disabled: bool | None = None


async def change_user_account(
    session: AsyncSession,
    username: str,
    change: UserChange,
    *,
    request: Request | None = None,
    principal: Principal | None = None,
    actor: str | None = None,
) -> User:
    """Change a user's role and/or disabled flag; end their sessions; audit each change.

    Refuses to leave the platform without an enabled admin.
    """
    user = await get_user(session, username)
    if user is None:
        raise UserError("username", f"no user {username!r}", status_code=404)
    loses_admin = (
        user.role == "admin"
        and not user.disabled
        and ((change.role is not None and change.role != "admin") or change.disabled is True)
    )
    if loses_admin and await count_admins(session) <= 1:
        raise UserError(
            "role",
            f"{username!r} is the last enabled admin; make another admin first",
            status_code=409,
        )
    if change.role is not None and change.role != user.role:
        check_role(change.role)
        old = user.role
        user.role = change.role
        await audit.record(
            session,
            request,
            "core.user.role_change",
            object_type="user",
            object_id=username,
            details={"from": old, "to": change.role},
            principal=principal,
            actor=actor,
        )
    if change.disabled is not None and change.disabled != user.disabled:
        user.disabled = change.disabled
        action = "core.user.disable" if change.disabled else "core.user.enable"
        await audit.record(
            session,
            request,
            action,
            object_type="user",
            object_id=username,
            principal=principal,
            actor=actor,
        )
    session.add(user)
    await session.flush()
    # A changed role or a disabled account must take effect now, not at the next login.
    await end_user_sessions(session, user.id or 0)
    return user
