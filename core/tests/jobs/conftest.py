"""Fixtures of the job engine's tests: databases, the test plugin, a running application,
and worker and server processes that tests may kill."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest

from pcm_ops.discovery import ENTRY_POINT_GROUP

HERE = Path(__file__).resolve().parent
TEST_PLUGIN = EntryPoint("jobs-test", "pcm_test_jobs.plugin", ENTRY_POINT_GROUP)

#: Short intervals, so that the tests wait for milliseconds where production waits seconds.
FAST = {
    "jobs_queue_poll_seconds": 0.05,
    "jobs_heartbeat_seconds": 0.5,
    "jobs_event_poll_seconds": 0.1,
    "jobs_sse_keepalive_seconds": 1.0,
    "metrics_refresh_seconds": 0,  # each scrape reads the gauges afresh
}

ROLES = {"alice": "admin", "oscar": "operator", "vera": "viewer"}


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


async def wait_until_async(
    check: Callable[[], Any], within: float = 30.0, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await anyio.to_thread.run_sync(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# -------------------------------------------------------------------------------------------
# Databases and settings
# -------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` (SQLite in the data directory) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    base = os.environ.get("PCM_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PCM_TEST_POSTGRES_URL is not set")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base).set(drivername="postgresql")
    name = f"pcm_jobs_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def plugin_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test plugin is importable in this process (it is not installed)."""
    monkeypatch.syspath_prepend(str(HERE))


@pytest.fixture
def job_settings(tmp_path: Path, database_url: str | None, plugin_importable: None) -> Any:
    from pcm_ops.settings import load_settings

    return load_settings(data_dir=tmp_path / "data", database_url=database_url, **FAST)


@pytest.fixture
def registry(job_settings: Any) -> Any:
    from pcm_ops.discovery import discover

    return discover(job_settings, entry_points_=[TEST_PLUGIN])


class _Templates:
    """Databases migrated once per session (core's tables and DBOS's), copied per test:
    a copy costs a fraction of migrating again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: Path | None = None
        self.postgres: str | None = None

    @staticmethod
    def _migrate(settings: Any) -> None:
        """Migrate, then start and stop an engine once: DBOS's tables, the queues and the
        schedule exist, so an engine started on a copy finds its queues at once."""
        from sqlalchemy import delete

        from pcm_ops.db.engine import create_sync_engine
        from pcm_ops.db.migrations import upgrade
        from pcm_ops.discovery import discover
        from pcm_ops.jobs.engine import JobEngine
        from pcm_ops.jobs.models import JobExecutor, table_of

        with pytest.MonkeyPatch.context() as patch:
            patch.syspath_prepend(str(HERE))
            registry = discover(settings, entry_points_=[TEST_PLUGIN])
            upgrade(settings, registry)
            engine = JobEngine(settings, registry, kind="worker", executor_id="template")
            engine.start()
            engine.stop()
        database = create_sync_engine(settings)
        with database.begin() as connection:
            connection.execute(delete(table_of(JobExecutor)))
        database.dispose()

    def sqlite_files(self) -> Path:
        if self.sqlite is None:
            from pcm_ops.settings import load_settings

            folder = self.root / "sqlite-template"
            self._migrate(load_settings(data_dir=folder, **FAST))
            self.sqlite = folder
        return self.sqlite

    def postgres_database(self, server_url: Any) -> str:
        if self.postgres is None:
            from pcm_ops.settings import load_settings

            name = f"pcm_jobs_template_{uuid.uuid4().hex[:8]}"
            _admin(server_url, f'CREATE DATABASE "{name}"')
            url = server_url.set(database=name).render_as_string(hide_password=False)
            self._migrate(
                load_settings(data_dir=self.root / "pg-template", database_url=url, **FAST)
            )
            self.postgres = name
        return self.postgres


def _admin(server_url: Any, statement: str) -> None:
    import psycopg

    admin_dsn = server_url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    made = _Templates(tmp_path_factory.mktemp("jobs-templates"))
    yield made
    if made.postgres is not None:
        from sqlalchemy.engine import make_url

        server = make_url(os.environ["PCM_TEST_POSTGRES_URL"]).set(drivername="postgresql")
        _admin(server, f'DROP DATABASE IF EXISTS "{made.postgres}" WITH (FORCE)')


@pytest.fixture
def migrated(job_settings: Any, templates: _Templates) -> None:
    """The test's database, migrated: a copy of a template migrated once per session."""
    import shutil

    from sqlalchemy.engine import make_url

    if job_settings.is_sqlite:
        shutil.copytree(templates.sqlite_files(), job_settings.data_dir, dirs_exist_ok=True)
        return
    url = make_url(job_settings.database_url).set(drivername="postgresql")
    template = templates.postgres_database(url)
    _admin(url, f'DROP DATABASE "{url.database}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"')


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """Where the test workflows leave their traces."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def store(job_settings: Any) -> Iterator[Any]:
    """A job store of the test's own (as the CLI has), closed afterwards."""
    from pcm_ops.jobs.service import JobStore

    job_store = JobStore(job_settings)
    yield job_store
    job_store.close()


def enqueue_from_outside(
    job_store: Any,
    workflow: str,
    queue: str,
    *args: Any,
    key: str | None = None,
    partition_key: str | None = None,
) -> str:
    """Enqueue by name through the system database, as a server that only enqueues does."""
    from pcm_ops.jobs.names import new_job_id

    job_id = new_job_id("jobs-test", key)
    options: dict[str, Any] = {
        "workflow_name": workflow,
        "queue_name": queue,
        "workflow_id": job_id,
    }
    if partition_key:
        options["queue_partition_key"] = partition_key
    job_store.client_for_enqueue().enqueue(options, *args)
    return job_id


# -------------------------------------------------------------------------------------------
# An application running in this process
# -------------------------------------------------------------------------------------------


@dataclass
class RunningApp:
    app: Any
    settings: Any
    client: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    lines = staticmethod(lines)
    wait_until = staticmethod(wait_until_async)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    @property
    def store(self) -> Any:
        return self.app.state.job_engine.store()

    async def wait_for_state(self, job_id: str, *states: str, within: float = 30) -> Any:
        def check() -> Any:
            job = self.store.get(job_id, with_steps=False)
            return job if job.state.value in states else None

        return await wait_until_async(check, within, f"job {job_id} to be {'/'.join(states)}")


@pytest.fixture
async def running_app(
    job_settings: Any, registry: Any, migrated: None
) -> AsyncIterator[RunningApp]:
    from asgi_lifespan import LifespanManager

    from pcm_ops.app import create_app
    from pcm_ops.security.models import User
    from pcm_ops.security.tokens import create_token

    app = create_app(job_settings, registry)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        tokens = {}
        async with app.state.database.session() as session:
            for username, role in ROLES.items():
                # Tokens only: a password hash that matches nothing spares Argon2's time.
                user = User(username=username, password_hash="!", role=role)
                session.add(user)
                await session.flush()
                held = app.state.permissions.for_role(role)
                issued = await create_token(session, user, "all", sorted(held), held, 30)
                tokens[username] = issued.raw
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            yield RunningApp(app=app, settings=job_settings, client=client, tokens=tokens)


# -------------------------------------------------------------------------------------------
# Processes
# -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


class Kit:
    """What tests of processes need: worker and server processes on the test's settings
    (all stopped at teardown), a job store, and ways to wait and look."""

    wait_until = staticmethod(wait_until)
    lines = staticmethod(lines)

    def __init__(self, settings: Any, tmp_path: Path, store: Any) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        self.store = store
        self.started: list[Process] = []
        self._stops: list[Callable[[], None]] = []

    def enqueue(self, workflow: str, queue: str, *args: Any, **options: Any) -> str:
        return enqueue_from_outside(self.store, workflow, queue, *args, **options)

    def state(self, job_id: str) -> str:
        return str(self.store.get(job_id, with_steps=False).state.value)

    def wait_for_state(self, job_id: str, state: str, timeout: float = 30) -> None:
        self.wait_until(lambda: self.state(job_id) == state, timeout, f"{job_id} to be {state}")

    def events(self, job_id: str) -> list[tuple[int, str]]:
        """``(id, type)`` of the events of a job's stream, from the database."""
        from sqlalchemy import select

        from pcm_ops.db.engine import create_sync_engine
        from pcm_ops.jobs.models import StreamEvent

        table = StreamEvent.__table__
        engine = create_sync_engine(self.settings)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(table.c.seq, table.c.type)
                    .where(table.c.stream == f"job:{job_id}")
                    .order_by(table.c.seq)
                ).all()
        finally:
            engine.dispose()
        return [(row.seq, row.type) for row in rows]

    def pcm_ops(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the ``pcm-ops`` console script on the test's settings."""
        command = [str(Path(sys.executable).with_name("pcm-ops")), *args]
        return subprocess.run(
            command, env=self.environment("cli"), capture_output=True, text=True, timeout=timeout
        )

    def environment(self, executor_id: str, **extra: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
        env = {
            **inherited,
            "PCM_DATA_DIR": str(self.settings.data_dir),
            "PCM_EXECUTOR_ID": executor_id,
            **{f"PCM_{name.upper()}": str(value) for name, value in FAST.items()},
            **extra,
        }
        if self.settings.database_url:
            env["PCM_DATABASE_URL"] = self.settings.database_url
        return env

    def _spawn(self, name: str, script: str, args: list[str], env: dict[str, str]) -> Process:
        log = self.tmp_path / f"{name}-{len(self.started)}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            [sys.executable, str(HERE / script), *args],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=self.tmp_path,
        )
        handle.close()
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def worker(
        self, executor_id: str, *queues: str, wait: bool = True, env: dict[str, str] | None = None
    ) -> Process:
        """A worker process; ``env``: more ``PCM_*`` variables (they win over the test's)."""
        process = self._spawn(
            executor_id,
            "worker_main.py",
            list(queues),
            self.environment(executor_id, **(env or {})),
        )
        if wait:
            self.wait_ready(process)
        return process

    def wait_ready(self, process: Process) -> None:
        wait_until(
            lambda: f"READY {process.name}" in process.output() or process.popen.poll() is not None,
            60,
            f"worker {process.name} to start",
        )
        assert process.popen.poll() is None, process.output()

    def serve_here(self, registry: Any) -> str:
        """Serve the application from this process (lifespan on, enqueueing only: the
        workers run the jobs) on a free port; return its base URL. Stopped at teardown."""
        import threading

        import uvicorn

        from pcm_ops.app import create_app

        settings = self.settings.model_copy(
            update={"jobs_execute_in_server": False, "executor_id": "server-here"}
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, registry), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started or not thread.is_alive(), 60, "the server to start")
        assert thread.is_alive(), "the server did not start"

        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=30)

        self._stops.append(stop)
        return f"http://127.0.0.1:{port}"

    def stop_all(self) -> None:
        for stop in self._stops:
            stop()
        for process in self.started:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def kit(job_settings: Any, migrated: None, tmp_path: Path, store: Any) -> Iterator[Kit]:
    spawned = Kit(job_settings, tmp_path, store)
    try:
        yield spawned
    finally:
        spawned.stop_all()
