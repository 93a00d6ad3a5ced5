"""Running async database work from a CLI command."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from pcm_ops.settings import Settings

if TYPE_CHECKING:  # `pcm-ops --help` imports this module; SQLModel must not come with it
    from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")


def cli_actor() -> str:
    """How the audit log names someone acting through the CLI on this machine."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction (committed when it returns) and return its result."""
    from pcm_ops.db.engine import Database
    from pcm_ops.security import secrets

    secrets.configure(settings.data_dir)

    async def main() -> T:
        database = Database(settings)
        try:
            async with database.session() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(main())
