"""The migration lock: one process at a time changes the schema or runs seeds.

Servers started with ``--migrate`` (or ``migrate_on_start``) and ``pcm-ops db upgrade``,
``downgrade`` and ``seed`` all take it, so that processes starting together wait for each
other instead of racing to create the same tables. On PostgreSQL it is a session-level
advisory lock on a fixed key, held by a connection of its own; on SQLite, whose database is
a local file, an exclusive ``flock`` on a file in the data directory.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pcm_ops.errors import DatabaseError
from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.db")

#: The PostgreSQL advisory-lock key: a fixed 32-bit number derived from a fixed name.
ADVISORY_LOCK_KEY = zlib.crc32(b"pcm_ops.migrations")

#: The lock file's name inside the data directory (SQLite).
LOCK_FILE_NAME = "pcm-ops.migrate.lock"

#: How long to wait for another process's migrations by default, in seconds.
DEFAULT_TIMEOUT = 600.0

_FILE_POLL_SECONDS = 0.1
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired


@contextmanager
def migration_lock(settings: Settings, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the migration lock for the ``with`` block; wait up to ``timeout`` seconds for it.

    :raises DatabaseError: the lock was not free within ``timeout``, or the database (on
        PostgreSQL) cannot be reached.
    """
    if settings.is_sqlite:
        with _file_lock(settings.data_dir / LOCK_FILE_NAME, timeout):
            yield
    else:
        with _advisory_lock(settings, timeout):
            yield


@contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    try:
        import fcntl
    except ModuleNotFoundError:  # Windows
        raise DatabaseError(
            "the SQLite migration lock needs a POSIX system (fcntl); on this system migrate "
            "from one process only, or use PostgreSQL"
        ) from None

    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    # flock (unlike POSIX record locks) also excludes other threads of this process, as
    # long as each opens the file itself, which this does.
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DatabaseError(
                        f"another process has held the migration lock ({path}) for "
                        f"{timeout:g} s; wait for it to finish, or stop it"
                    ) from None
                time.sleep(_FILE_POLL_SECONDS)
        logger.debug("migration lock taken: %s", path)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            logger.debug("migration lock released: %s", path)


@contextmanager
def _advisory_lock(settings: Settings, timeout: float) -> Iterator[None]:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.migrations import database_unreachable

    engine = create_sync_engine(settings)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise database_unreachable(settings, exc) from None
        with connection:
            # Autocommit: the lock belongs to the session, not to a transaction, and an
            # idle-in-transaction connection must not hold back vacuum while we wait.
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            # lock_timeout bounds the wait; the session's later statements are ours alone.
            connection.execute(text(f"SET lock_timeout = {int(timeout * 1000)}"))
            try:
                connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
                raise DatabaseError(
                    f"another process has held the migration lock (PostgreSQL advisory "
                    f"lock {ADVISORY_LOCK_KEY}) for {timeout:g} s; wait for it to finish, "
                    "or stop it"
                ) from None
            logger.debug("migration lock taken: advisory lock %s", ADVISORY_LOCK_KEY)
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
                logger.debug("migration lock released: advisory lock %s", ADVISORY_LOCK_KEY)
    finally:
        engine.dispose()


__all__ = ["ADVISORY_LOCK_KEY", "DEFAULT_TIMEOUT", "LOCK_FILE_NAME", "migration_lock"]
