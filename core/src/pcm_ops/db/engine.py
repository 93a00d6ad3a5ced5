"""Database engines: async for the application, sync (same database) for Alembic and CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_ops.settings import Settings


def sync_url(settings: Settings) -> str:
    """The database URL with a synchronous driver (pysqlite or psycopg), for Alembic."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite")
    else:
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


#: SQLite's page cache per connection, in KiB.
SQLITE_CACHE_KIB = 512


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and a writer work at once; busy_timeout makes concurrent writers
    # (server, CLI, workers) wait instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # 512 KiB of page cache per connection instead of SQLite's 2 MiB: a server keeps a pool
    # of them (and the job engine its own), whose caches filled up as the tables grew (27
    # of the 300 MiB of a 20,000-instance execution); the OS caches the file anyway.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _prepare(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)


def create_sync_engine(settings: Settings) -> Engine:
    """A synchronous engine on the configured database (Alembic, CLI commands)."""
    _prepare(settings)
    engine = create_engine(sync_url(settings), pool_pre_ping=True)
    if settings.is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The application's async engine and session factory."""

    def __init__(self, settings: Settings) -> None:
        _prepare(settings)
        self.settings = settings
        self.engine: AsyncEngine = create_async_engine(
            settings.effective_database_url, pool_pre_ping=True
        )
        if settings.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
