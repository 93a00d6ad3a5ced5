"""Running async database work from a CLI command: the public helpers for plugins' commands.

A plugin's command (from ``pcm_ops_cli_commands``) gets core's CLI context with
``@click.pass_obj`` and runs its work in one transaction::

    import click
    from pcm_ops.cli.main import CliContext
    from pcm_ops.cli.session import cli_actor, run_in_session

    @click.command("notes")
    @click.pass_obj
    def list_notes(obj: CliContext) -> None:
        async def work(session):
            return (await session.exec(select(Note))).all()

        for note in run_in_session(obj.settings(), work):
            click.echo(note.title)

``obj.settings()`` honours ``pcm-ops --config FILE`` and the environment, exactly as the
server does. A :class:`pcm_ops.errors.PcmOpsError` (and so every
:class:`~pcm_ops.errors.ServiceError`) raised by the work is printed by ``pcm-ops`` as
``Error: <message>`` with exit status 1, never as a traceback.
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # plugins' command modules import this one: nothing heavy at import
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_ops.db.engine import Database
    from pcm_ops.settings import Settings

__all__ = ["cli_actor", "run_in_session", "run_with_database"]

T = TypeVar("T")


def cli_actor() -> str:
    """How the audit log names someone acting through the CLI on this machine:
    ``cli:<os user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def run_with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` with a ``pcm_ops.db.engine.Database`` on ``settings`` (its own
    engine, disposed afterwards; secrets at rest configured) and return its result.

    For work that opens sessions itself, or hands the database to something that does
    (e.g. aws-common's ``AwsClients``).
    """
    import asyncio

    from pcm_ops.db.engine import Database
    from pcm_ops.security import secrets

    secrets.verify_key(settings)  # configures the keys; refuses a key the database rejects

    async def main() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction (committed when it returns, rolled back when it
    raises) and return its result."""

    async def in_session(database: Database) -> T:
        async with database.session() as session:
            return await work(session)

    return run_with_database(settings, in_session)
