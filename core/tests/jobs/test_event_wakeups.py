"""Waking event streams: a publish in another process reaches a waiting stream without
waiting for the poller, and waiting streams do not query the database one by one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
import pytest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def wait_until_async(check: Any, within: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await anyio.to_thread.run_sync(check):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.02)


class Streams:
    """Event streams served the way a route serves them, from a hub on ``settings``."""

    def __init__(self, settings: Any) -> None:
        from pcm_ops.db.engine import Database
        from pcm_ops.jobs.sse import EventHub

        self.settings = settings
        self.database = Database(settings)
        self.hub = EventHub(settings, self.database.engine)
        state = SimpleNamespace(settings=settings, database=self.database, job_event_hub=self.hub)
        self.request = SimpleNamespace(app=SimpleNamespace(state=state), headers={})
        self._open: list[Any] = []

    def open(self, stream: str, **options: Any) -> Any:
        """A stream's body (an async iterator of SSE chunks)."""
        from pcm_ops.jobs.sse import event_stream_response

        body = event_stream_response(self.request, stream, **options).body_iterator  # type: ignore[arg-type]
        self._open.append(body)
        return body

    async def close(self) -> None:
        for body in self._open:
            await body.aclose()
        await self.hub.stop()
        await self.database.dispose()


@pytest.fixture
async def streams(job_settings: Any, migrated: None) -> AsyncIterator[Streams]:
    """Streams whose poller looks only once a minute and whose keep-alive is 5 minutes, so
    that nothing but a wake-up makes them read within a test."""
    settings = job_settings.model_copy(
        update={"jobs_event_poll_seconds": 60.0, "jobs_sse_keepalive_seconds": 300.0}
    )
    opened = Streams(settings)
    try:
        yield opened
    finally:
        await opened.close()


def publish_from_another_process(settings: Any, stream: str, data: dict[str, Any]) -> None:
    """Publish one event from a fresh Python process on the same database."""
    script = textwrap.dedent(
        f"""
        from pcm_ops.jobs import events
        from pcm_ops.settings import load_settings

        settings = load_settings(data_dir={str(settings.data_dir)!r},
                                 database_url={settings.database_url!r})
        events.configure(settings)
        events.publish({stream!r}, "tick", {data!r})
        events.unconfigure()
        """
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    completed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr


def listening(settings: Any) -> bool:
    """Whether a connection to the test's PostgreSQL database has run ``LISTEN``."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %%'"
        ).fetchone()
    return bool(row and row[0])


@SQLITE
async def test_an_event_published_by_another_process_wakes_a_waiting_stream(
    streams: Streams,
) -> None:
    from pcm_ops.jobs.wakeups import wakeup_directory

    body = streams.open("jobs-test:thing:7")
    assert (await body.__anext__()).startswith("retry: ")
    next_chunk = asyncio.ensure_future(body.__anext__())
    directory = wakeup_directory(streams.settings.effective_database_url)
    assert directory is not None
    await wait_until_async(lambda: any(directory.glob(f"*.{os.getpid()}")), 30, "registration")

    await anyio.to_thread.run_sync(
        publish_from_another_process, streams.settings, "jobs-test:thing:7", {"n": 1}
    )

    # The poller would look after 60 s: only the wake-up can bring it within 30.
    chunk = await asyncio.wait_for(next_chunk, 30)
    assert chunk.startswith("id: 1\nevent: tick\n")
    assert '"data":{"n":1}' in chunk


@SQLITE
async def test_a_stopped_hub_removes_its_registration(streams: Streams) -> None:
    from pcm_ops.jobs.wakeups import wakeup_directory

    streams.hub.start()
    directory = wakeup_directory(streams.settings.effective_database_url)
    assert directory is not None
    await wait_until_async(lambda: any(directory.glob(f"*.{os.getpid()}")), 30, "registration")

    await streams.hub.stop()

    assert list(directory.glob(f"*.{os.getpid()}")) == []


@SQLITE
async def test_a_dead_process_registration_is_removed_by_the_next_listener(
    streams: Streams,
) -> None:
    from pcm_ops.jobs.wakeups import wakeup_directory

    directory = wakeup_directory(streams.settings.effective_database_url)
    assert directory is not None
    gone = await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            text=True,
            capture_output=True,
            check=True,
        )
    )
    directory.mkdir(exist_ok=True)
    stale = directory / f"9.{int(gone.stdout)}"
    stale.touch()

    streams.hub.start()
    await wait_until_async(lambda: any(directory.glob(f"*.{os.getpid()}")), 30, "registration")

    assert not stale.exists()


async def test_waiting_streams_leave_the_database_to_the_one_poller(
    job_settings: Any, migrated: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 streams wait, each asking its is_finished every few milliseconds: the only reads
    of the events table are the hub's poll, one per interval, not one per stream."""
    from sqlalchemy import event

    import pcm_ops.jobs.sse

    monkeypatch.setattr(pcm_ops.jobs.sse, "FINISH_CHECK_SECONDS", 0.01)
    settings = job_settings.model_copy(
        update={"jobs_event_poll_seconds": 0.05, "jobs_sse_keepalive_seconds": 300.0}
    )
    opened = Streams(settings)
    statements: list[str] = []
    event.listen(
        opened.database.engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: statements.append(statement),
    )
    checks: dict[int, int] = {}

    def is_finished_of(number: int) -> Any:
        async def is_finished() -> bool:
            checks[number] = checks.get(number, 0) + 1
            return False

        return is_finished

    try:
        bodies = [
            opened.open(f"jobs-test:thing:{n}", is_finished=is_finished_of(n)) for n in range(20)
        ]
        for body in bodies:
            assert (await body.__anext__()).startswith("retry: ")
        waiting = [asyncio.ensure_future(body.__anext__()) for body in bodies]

        def polls_since(start: int) -> int:
            return sum("pcm_job_event.id >" in s for s in statements[start:])

        def loops_past(seen: dict[int, int], more: int) -> bool:
            return len(checks) == 20 and all(checks[n] >= seen.get(n, 0) + more for n in checks)

        # The hub wakes every stream once when it starts (its first poll; on PostgreSQL
        # also when LISTEN connects): let that pass before counting.
        await wait_until_async(lambda: polls_since(0) >= 2, 30, "the poller to start")
        if not settings.is_sqlite:
            await wait_until_async(lambda: listening(settings), 30, "LISTEN")
        seen = dict(checks)
        await wait_until_async(lambda: loops_past(seen, 2), 30, "every stream to wait again")
        before = len(statements)
        seen = dict(checks)

        await wait_until_async(
            lambda: polls_since(before) >= 5 and loops_past(seen, 20), 30, "five polls"
        )
        during = statements[before:]
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    finally:
        await opened.close()

    event_reads = [s for s in during if "pcm_job_event" in s]
    assert event_reads
    assert all("pcm_job_event.id >" in s for s in event_reads), event_reads[:3]
