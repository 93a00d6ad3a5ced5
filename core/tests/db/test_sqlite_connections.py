"""What every SQLite connection of the platform is set up with."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def test_sqlite_connections_use_wal_a_busy_timeout_and_a_small_page_cache(
    pcm_settings: Any,
) -> None:
    from pcm_ops.db.engine import SQLITE_CACHE_KIB, Database, create_sync_engine

    database = Database(pcm_settings)
    try:
        async with database.engine.connect() as connection:
            found = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "cache_size")
            ]
    finally:
        await database.dispose()
    engine = create_sync_engine(pcm_settings)
    try:
        with engine.connect() as connection:
            sync_cache = connection.execute(text("PRAGMA cache_size")).scalar_one()
    finally:
        engine.dispose()

    assert found == ["wal", 10000, 1, -SQLITE_CACHE_KIB]
    assert sync_cache == -SQLITE_CACHE_KIB  # the job engine's and the CLI's engine too
