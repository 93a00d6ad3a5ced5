"""Seeds: named, versioned, idempotent data that plugins put into the database.

Each loaded plugin's ``pcm_ops_seeds`` hook returns :class:`pcm_ops.plugin.Seed` objects.
A seed runs in a transaction of its own; when it succeeds, ``(plugin, name, version)`` is
recorded in ``pcm_seed`` in that same transaction, and it runs again only when its version
grows. A seed that raises leaves nothing behind (neither its data nor a record), is reported
naming plugin and seed, and does not stop the seeds of other plugins.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pcm_ops.errors import DatabaseError
from pcm_ops.plugin import Seed, SeedContext
from pcm_ops.registry import PluginRecord, PluginRegistry
from pcm_ops.settings import Settings

if TYPE_CHECKING:
    from pcm_ops.db.engine import Database

logger = logging.getLogger("pcm_ops.db")

_T = TypeVar("_T")


class SeedStatus(enum.StrEnum):
    """What happened to one seed."""

    APPLIED = "applied"
    """It ran and is now recorded at its version."""
    UP_TO_DATE = "up-to-date"
    """It had already run at this version (or a higher one); not run."""
    SKIPPED = "skipped"
    """A demo-only seed outside demo mode; not run."""
    FAILED = "failed"
    """It (or its plugin's hook) raised; nothing was recorded."""


@dataclass(frozen=True)
class SeedOutcome:
    """The outcome of one seed.

    Attributes:
        owner: the plugin id (``"core"`` for core's own seeds).
        name: the seed's name; ``None`` when the plugin's ``pcm_ops_seeds`` hook itself failed.
        version: the seed's version.
        status: see :class:`SeedStatus`.
        detail: why it failed or was skipped.
    """

    owner: str
    name: str | None
    version: int | None
    status: SeedStatus
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not SeedStatus.FAILED

    def describe(self) -> str:
        """One line for people: ``plugin 'aws-common', seed 'regions' v2: applied``."""
        owner = "core" if self.owner == "core" else f"plugin {self.owner!r}"
        what = f"seed {self.name!r} v{self.version}" if self.name else "hook pcm_ops_seeds"
        line = f"{owner}, {what}: {self.status.value}"
        return f"{line} ({self.detail})" if self.detail else line


async def run_seeds(
    settings: Settings,
    registry: PluginRegistry,
    database: Database,
    demo: bool = False,
) -> list[SeedOutcome]:
    """Run every loaded plugin's seeds that have not run at their current version.

    Plugins in id order, each plugin's seeds in the order its hook returns them.

    :param database: the application's :class:`~pcm_ops.db.engine.Database`.
    :param demo: also run ``demo_only`` seeds.
    :return: one outcome per seed (and one per plugin whose hook failed).
    :raises DatabaseError: ``pcm_seed`` does not exist yet (run ``pcm-ops db upgrade``), or
        the database cannot be reached.
    """
    await _require_seed_table(settings, database)
    outcomes: list[SeedOutcome] = []
    for record, seeds in _collect_seeds(settings, registry, outcomes):
        for seed in seeds:
            outcomes.append(await _run_one(settings, database, record, seed, demo))
    return outcomes


def run_seeds_sync(
    settings: Settings,
    registry: PluginRegistry,
    demo: bool = False,
    *,
    lock: bool = True,
) -> list[SeedOutcome]:
    """:func:`run_seeds` for synchronous callers (the CLI), on a database of its own.

    :param lock: hold the migration lock (:mod:`pcm_ops.db.lock`) while seeding, so that
        two processes do not run the same seed at once.
    """
    from pcm_ops.db.engine import Database
    from pcm_ops.db.lock import migration_lock

    async def seed() -> list[SeedOutcome]:
        database = Database(settings)
        try:
            return await run_seeds(settings, registry, database, demo=demo)
        finally:
            await database.dispose()

    if not lock:
        return run_blocking(seed)
    with migration_lock(settings):
        return run_blocking(seed)


def run_blocking(coroutine_function: Callable[[], Awaitable[_T]]) -> _T:
    """Run an async function to completion from synchronous code.

    Works inside a running event loop too (the server's lifespan calling
    :func:`~pcm_ops.db.migrations.migrate_on_start`), by running it in a thread of its own.
    """

    async def main() -> _T:
        return await coroutine_function()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pcm-ops-seeds") as pool:
        return pool.submit(asyncio.run, main()).result()


def _collect_seeds(
    settings: Settings, registry: PluginRegistry, outcomes: list[SeedOutcome]
) -> list[tuple[PluginRecord, list[Seed]]]:
    """Call ``pcm_ops_seeds``; record an outcome for each plugin whose hook misbehaves."""
    implementers = registry.implementers("pcm_ops_seeds")
    returned = registry.call_each("pcm_ops_seeds", settings=settings)
    answered = {record.id for record, _ in returned}
    for record in implementers:
        if record.id not in answered and not record.loaded:
            outcomes.append(
                SeedOutcome(record.id, None, None, SeedStatus.FAILED, record.error or "failed")
            )
    collected: list[tuple[PluginRecord, list[Seed]]] = []
    for record, seeds in returned:
        problem = _seed_problem(seeds)
        if problem is not None:
            outcomes.append(SeedOutcome(record.id, None, None, SeedStatus.FAILED, problem))
            continue
        collected.append((record, list(seeds)))
    return collected


def _seed_problem(seeds: Any) -> str | None:
    if not isinstance(seeds, list | tuple):
        return f"hook pcm_ops_seeds returned {seeds!r}; return a list of pcm_ops.plugin.Seed"
    names: set[str] = set()
    for seed in seeds:
        if not isinstance(seed, Seed):
            return f"hook pcm_ops_seeds returned {seed!r}, which is not a pcm_ops.plugin.Seed"
        if not isinstance(seed.version, int) or seed.version < 1:
            return f"seed {seed.name!r} has version {seed.version!r}; use an integer >= 1"
        if seed.name in names:
            return f"two seeds are named {seed.name!r}"
        names.add(seed.name)
    return None


async def _run_one(
    settings: Settings, database: Database, record: PluginRecord, seed: Seed, demo: bool
) -> SeedOutcome:
    from sqlmodel import select

    from pcm_ops.db.models import SeedRecord
    from pcm_ops.db.types import utcnow

    def outcome(status: SeedStatus, detail: str = "") -> SeedOutcome:
        return SeedOutcome(record.id, seed.name, seed.version, status, detail)

    if seed.demo_only and not demo:
        return outcome(SeedStatus.SKIPPED, "demo only")
    try:
        async with database.session() as session:
            statement = select(SeedRecord).where(
                SeedRecord.owner == record.id, SeedRecord.name == seed.name
            )
            recorded = (await session.exec(statement)).first()
            if recorded is not None and recorded.version >= seed.version:
                return outcome(SeedStatus.UP_TO_DATE)
            await seed.run(SeedContext(session, settings, record.config, demo))
            if recorded is None:
                recorded = SeedRecord(owner=record.id, name=seed.name, version=seed.version)
            else:
                recorded.version = seed.version
                recorded.applied_at = utcnow()
            session.add(recorded)
            await session.flush()
    except Exception as exc:  # the seed's own error, or a conflict on recording it
        logger.debug("seed %r of plugin %r raised", seed.name, record.id, exc_info=True)
        return outcome(
            SeedStatus.FAILED,
            f"{type(exc).__name__}: {exc}",
        )
    return outcome(SeedStatus.APPLIED)


async def _require_seed_table(settings: Settings, database: Database) -> None:
    from sqlalchemy import inspect
    from sqlalchemy.exc import DBAPIError

    from pcm_ops.db.models import SeedRecord

    name = SeedRecord.__tablename__
    try:
        async with database.engine.connect() as connection:
            exists = await connection.run_sync(lambda sync: inspect(sync).has_table(name))
    except DBAPIError as exc:
        from pcm_ops.db.migrations import database_unreachable

        raise database_unreachable(settings, exc) from None
    if not exists:
        raise DatabaseError(
            f"the database has no {name} table yet; run `pcm-ops db upgrade` before seeding"
        )


__all__ = ["SeedOutcome", "SeedStatus", "run_blocking", "run_seeds", "run_seeds_sync"]
