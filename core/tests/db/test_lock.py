"""``migrate_on_start`` and the migration lock: processes starting together do not race."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import EntryPoint

import pytest
from sqlalchemy import text

from pcm_ops.db.engine import create_sync_engine
from pcm_ops.db.lock import migration_lock
from pcm_ops.db.migrations import branch_status, migrate_on_start
from pcm_ops.errors import DatabaseError
from pcm_ops.registry import PluginRegistry
from pcm_ops.settings import Settings

MakeEnv = Callable[..., tuple[Settings, PluginRegistry]]


def count(settings: Settings, sql: str) -> int:
    engine = create_sync_engine(settings)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_migrate_on_start_migrates_and_seeds(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)

    migrate_on_start(settings, registry)

    assert all(row.at_head for row in branch_status(settings, registry))
    assert count(settings, "SELECT count(*) FROM pcm_seed") == 1


def test_migrate_on_start_from_two_threads_at_once(
    make_env: MakeEnv, widgets: EntryPoint, gadgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets, gadgets)
    start = threading.Barrier(2)

    def start_server() -> None:
        start.wait()
        migrate_on_start(settings, registry)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(start_server) for _ in range(2)]:
            future.result()

    assert all(row.at_head for row in branch_status(settings, registry))
    assert count(settings, "SELECT count(*) FROM dbw_widget") == 1
    assert count(settings, "SELECT count(*) FROM dbg_gadget") == 1


@pytest.mark.slow
def test_migrate_on_start_from_two_processes_at_once(make_env: MakeEnv) -> None:
    settings, registry = make_env()
    environment = {
        **os.environ,
        "PCM_DATA_DIR": str(settings.data_dir),
        "PCM_DATABASE_URL": settings.effective_database_url,
        "PCM_PLUGINS": "",
    }
    script = (
        "from pcm_ops.discovery import discover\n"
        "from pcm_ops.db.migrations import migrate_on_start\n"
        "from pcm_ops.settings import load_settings\n"
        "settings = load_settings()\n"
        "migrate_on_start(settings, discover(settings))\n"
    )

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=environment, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]

    assert [process.returncode for process in processes] == [0, 0], errors
    assert branch_status(settings, registry)[0].at_head


async def test_migrate_on_start_works_inside_a_running_event_loop(
    make_env: MakeEnv, widgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets)

    migrate_on_start(settings, registry)

    assert count(settings, "SELECT count(*) FROM pcm_seed") == 1


def test_the_lock_is_exclusive_and_times_out(make_env: MakeEnv) -> None:
    settings, _ = make_env()
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with migration_lock(settings):
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(30)
        with (
            pytest.raises(DatabaseError, match="another process has held the migration lock"),
            migration_lock(settings, timeout=0.3),
        ):
            pass
    finally:
        release.set()
        holder.join()
    with migration_lock(settings, timeout=5):
        pass
