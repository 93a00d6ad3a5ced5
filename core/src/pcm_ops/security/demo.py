"""Demo mode's admin: the only place PCM-Ops ever sets a password itself.

On every demo start the ``demo`` admin gets a new random password, printed in the terminal;
there is no default password anywhere, in demo mode or not.
"""

from __future__ import annotations

import secrets
import sys

from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_ops.security.passwords import hash_password
from pcm_ops.security.users import create_user, get_user

DEMO_USERNAME = "demo"


async def reset_demo_admin(session: AsyncSession) -> str:
    """Create the demo admin or give it a new password; return the password."""
    password = secrets.token_urlsafe(12)
    user = await get_user(session, DEMO_USERNAME)
    if user is None:
        await create_user(session, DEMO_USERNAME, password, "admin")
    else:
        user.password_hash = hash_password(password)
        user.role = "admin"
        user.disabled = False
        session.add(user)
    return password


def announce(password: str, url: str) -> None:
    print(
        f"\n  DEMO LOGIN  {url}login   user: {DEMO_USERNAME}   password: {password}\n",
        file=sys.stderr,
        flush=True,
    )
