"""The ``pcm_ops`` pytest plugin: fixtures for testing PCM-Ops and its plugins.

pytest loads this module by itself wherever ``pcm-ops-core`` is installed (entry point
``pytest11``); install ``pcm-ops-core[testing]`` for what the fixtures need (httpx,
asgi-lifespan, pytest-asyncio). Loading it must stay cheap, because it happens in every
test run of such an environment: only pytest and the standard library are imported here,
everything else inside the fixtures.

Fixtures, from the bottom up:

``pcm_backend``
    ``"sqlite"``, and also ``"postgresql"`` when ``PCM_TEST_POSTGRES_URL`` is set: every
    test that uses a database runs once per backend.
``pcm_database_url``
    A fresh, empty database for the test on that backend (on PostgreSQL: a database of its
    own, or a schema of its own with ``PCM_TEST_POSTGRES_ISOLATION=schema``).
``pcm_plugins``
    The plugins the tests load when they carry no ``@pytest.mark.pcm_plugins(...)``
    marker: none. Override it in a ``conftest.py`` to load your plugin in every test; a
    test's marker still wins.
``make_pcm_settings`` / ``pcm_settings``
    :class:`pcm_ops.settings.Settings` on a temporary data directory and that database.
``make_pcm_registry`` / ``pcm_registry``
    The discovered plugins: only the ones named.
``make_pcm_app`` / ``pcm_app``
    The FastAPI application (:func:`pcm_ops.app.create_app`).
``pcm_running_app``
    ``pcm_app`` with its lifespan (plugins' start-up and shutdown hooks) running.
``pcm_client``
    An ``httpx.AsyncClient`` for the running app, without credentials.
``pcm_migrated_database``
    The database migrated to the heads of core and the loaded plugins.
``pcm_auth_headers``
    ``await pcm_auth_headers("viewer")``: headers with a new user's API token.
``pcm_admin_client``
    An ``httpx.AsyncClient`` for the running app that sends an admin's token.
``pcm_cheap_passwords``
    Argon2 with its cheapest parameters for the test's password hashes (request it from an
    autouse fixture of your ``conftest.py``: tests create many users).
``pcm_live_server``
    The running app served over real HTTP on a loopback port: its base URL.
``pcm_chromium``
    The Chromium executable for browser tests (``PCM_TEST_CHROMIUM``, default
    ``/usr/bin/chromium``); the test is skipped when there is none. Launch it with
    :data:`CHROMIUM_ARGS`.
``pcm_workers``
    ``pcm-ops worker`` processes on the test's settings: ``start(executor_id)``,
    ``kill(process)`` (SIGKILL), ``logs()``; see :mod:`pcm_ops.testing.workers`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from pcm_ops.db.engine import Database
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

try:  # pytest-asyncio runs async fixtures in any asyncio_mode; it comes with [testing]
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pragma: no cover - the async fixtures then explain what to install
    async_fixture = pytest.fixture  # type: ignore[assignment]

#: The environment variable naming a PostgreSQL database for tests, e.g.
#: ``postgresql://postgres@127.0.0.1:5432/test``. How each test gets a database of its own
#: there depends on :data:`POSTGRES_ISOLATION_ENV`.
POSTGRES_URL_ENV = "PCM_TEST_POSTGRES_URL"

#: The environment variable choosing how PostgreSQL tests are kept apart:
#:
#: ``database`` (the default)
#:     each test gets a database ``pcm_test_<random>``, created through the database that
#:     ``PCM_TEST_POSTGRES_URL`` names (a maintenance database) and dropped after the test:
#:     the user needs ``CREATEDB``.
#: ``schema``
#:     each test gets a schema ``pcm_test_<random>`` in the database that
#:     ``PCM_TEST_POSTGRES_URL`` names, created before and dropped (``CASCADE``) after the
#:     test; its connections find it through ``search_path`` (the URL's
#:     ``options=-csearch_path=...``). For a user that may not create databases: it needs
#:     ``CREATE`` on that one database. DBOS's system tables stay in that database's
#:     ``dbos`` schema, shared by every test (see the plugin guide).
POSTGRES_ISOLATION_ENV = "PCM_TEST_POSTGRES_ISOLATION"
POSTGRES_ISOLATIONS = ("database", "schema")

PluginSpec = str | EntryPoint

#: The environment variable naming the Chromium executable of browser tests.
CHROMIUM_ENV = "PCM_TEST_CHROMIUM"
#: Chromium's arguments for the browser tests: headless, no sandbox (tests run as root in
#: CI), nothing that talks to the network on its own.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pcm_plugins(*ids_or_entry_points): the plugins that pcm_registry, pcm_app and "
        "pcm_client load (default: none)",
    )
    config.addinivalue_line(
        "markers", "postgres: runs against PostgreSQL (only when PCM_TEST_POSTGRES_URL is set)"
    )
    # One job-engine application version for the test process and every worker or server
    # process a test starts (they inherit the environment). DBOS derives a version from the
    # workflows a process has registered, and a test process registers those of every test
    # it ran: a job enqueued while its version was the newest would never be taken by a
    # worker that lacks them, and the test would wait for ever. Set it yourself to test
    # versions.
    os.environ.setdefault("DBOS__APPVERSION", "pcm-ops-tests")
    # A test process starts many applications (and the servers and workers a test starts
    # inherit the environment): freezing what one start-up made would keep it for the
    # rest of the run, and a collector set up for a server delays collecting each test's
    # garbage. Tests keep Python's collector as it is (pcm_ops.memory); make_pcm_settings
    # sets tune_gc off too, whatever the environment says.
    os.environ.setdefault("PCM_TUNE_GC", "false")


def _backends() -> list[Any]:
    backends: list[Any] = ["sqlite"]
    if os.environ.get(POSTGRES_URL_ENV):
        backends.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return backends


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that needs a database once per available backend."""
    if "pcm_backend" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "pcm_backend" in names:  # the test chose its backends itself
            return
    metafunc.parametrize("pcm_backend", _backends(), indirect=True)


# -------------------------------------------------------------------------------------------
# Database
# -------------------------------------------------------------------------------------------


@pytest.fixture
def pcm_backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test run: ``"sqlite"`` or ``"postgresql"``.

    Tests that use a database are parametrized over the available backends: SQLite always,
    PostgreSQL as well when ``PCM_TEST_POSTGRES_URL`` is set (those runs carry the
    ``postgres`` marker, so ``-m "not postgres"`` leaves them out). To pin one backend::

        @pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
        def test_sqlite_only(pcm_settings): ...
    """
    return str(getattr(request, "param", "sqlite"))


def _postgres_autocommit_engine(url_text: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(url_text).set(drivername="postgresql+psycopg")
    try:
        return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    except ModuleNotFoundError as exc:  # psycopg is in core's [postgres] extra
        raise RuntimeError(
            f"{POSTGRES_URL_ENV} is set but the PostgreSQL driver is missing ({exc}); "
            "install pcm-ops-core[postgres]"
        ) from None


def _postgres_isolation() -> str:
    isolation = os.environ.get(POSTGRES_ISOLATION_ENV, "").strip().lower() or "database"
    if isolation not in POSTGRES_ISOLATIONS:
        pytest.fail(
            f"{POSTGRES_ISOLATION_ENV}={isolation!r}: use 'database' (a database per test, "
            "the default) or 'schema' (a schema per test in the one database that "
            f"{POSTGRES_URL_ENV} names)",
            pytrace=False,
        )
    return isolation


@contextmanager
def _postgres_database(server_url: str) -> Iterator[str]:
    """A database ``pcm_test_<random>`` on the server, dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"pcm_test_{uuid.uuid4().hex[:12]}"
    engine = _postgres_autocommit_engine(server_url)
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


@contextmanager
def _postgres_schema(database_url: str) -> Iterator[str]:
    """A schema ``pcm_test_<random>`` in the database, dropped with its tables afterwards.

    The URL given to the test puts the schema alone on ``search_path`` (so unqualified
    names, Alembic's ``alembic_version`` included, are created and found there) and names
    the connections after it (``application_name``), so that those still open at the end
    can be ended: a user may end its own connections without any privilege.
    """
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"pcm_test_{uuid.uuid4().hex[:12]}"
    engine = _postgres_autocommit_engine(database_url)
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        url = make_url(database_url).set(drivername="postgresql+psycopg")
        given = url.query.get("options", ())
        options = [*([given] if isinstance(given, str) else given), f"-csearch_path={name}"]
        url = url.update_query_dict({"options": " ".join(options), "application_name": name})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


@pytest.fixture
def pcm_database_url(pcm_backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database that belongs to this test alone.

    SQLite: a file in the test's temporary directory. PostgreSQL, as
    ``PCM_TEST_POSTGRES_ISOLATION`` says: by default a database named
    ``pcm_test_<random>``, created through the maintenance database that
    ``PCM_TEST_POSTGRES_URL`` names and dropped (its connections ended first) after the
    test; with ``schema``, a schema ``pcm_test_<random>`` in the database that
    ``PCM_TEST_POSTGRES_URL`` names, which the URL puts on ``search_path``
    (``...?options=-csearch_path%3Dpcm_test_...``), dropped with everything in it after the
    test.
    """
    if pcm_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'pcm-ops.db'}"
        return
    server_url = os.environ.get(POSTGRES_URL_ENV)
    if not server_url:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set")
    isolated = _postgres_schema if _postgres_isolation() == "schema" else _postgres_database
    with isolated(server_url) as url:
        yield url


# -------------------------------------------------------------------------------------------
# Settings and plugins
# -------------------------------------------------------------------------------------------


@pytest.fixture
def pcm_plugins(request: pytest.FixtureRequest) -> Sequence[PluginSpec]:
    """The plugins a test loads, by id (installed) or as ``importlib.metadata.EntryPoint``,
    when the test has no ``@pytest.mark.pcm_plugins(...)`` marker.

    Default: no plugin at all (or, requested directly, the marker's arguments). A plugin's
    test suite usually overrides it once, in ``conftest.py``::

        @pytest.fixture
        def pcm_plugins():
            return ["aws-common", "aws-script-runner"]  # name the plugins yours needs too

    A test's marker wins over this fixture, overridden or not: it names exactly the plugins
    that test loads. An id in the marker that this fixture returns as an ``EntryPoint``
    means that entry point, so a conftest can offer plugins that are not installed by name.
    """
    marker = request.node.get_closest_marker("pcm_plugins")
    return tuple(marker.args) if marker is not None else ()


def _chosen_plugins(
    request: pytest.FixtureRequest, pcm_plugins: Sequence[PluginSpec]
) -> tuple[PluginSpec, ...]:
    """The plugins the test loads: its ``pcm_plugins`` marker's, else the fixture's."""
    marker = request.node.get_closest_marker("pcm_plugins")
    if marker is None:
        return tuple(pcm_plugins)
    offered = {spec.name: spec for spec in pcm_plugins if isinstance(spec, EntryPoint)}
    return tuple(offered.get(spec, spec) if isinstance(spec, str) else spec for spec in marker.args)


def _plugin_id(spec: PluginSpec) -> str:
    return spec.name if isinstance(spec, EntryPoint) else spec


def _isolate_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's PCM_PLUGINS or PCM_CONFIG must not change what a test sees. PCM_TEST_*
    # variables configure the test run itself and stay.
    for name in list(os.environ):
        if name.startswith("PCM_") and not name.startswith("PCM_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_pcm_settings(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pcm_database_url: str,
    pcm_plugins: Sequence[PluginSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Settings]:
    """A factory of :class:`~pcm_ops.settings.Settings`: ``make_pcm_settings(**overrides)``.

    The settings are built by :func:`pcm_ops.settings.load_settings`, like the CLI's, from:
    ``data_dir`` = the test's temporary directory, ``database_url`` = ``pcm_database_url``,
    ``plugins`` = the ids of the test's plugins (its ``pcm_plugins`` marker's, else the
    ``pcm_plugins`` fixture's), ``metrics_refresh_seconds`` = 0, ``tune_gc`` = ``False``
    (:mod:`pcm_ops.memory`: a test process starts many apps), and then ``overrides``
    (any setting, plus ``config_file=`` for a TOML file). ``PCM_*`` environment variables
    present when the test starts are removed for the test; variables the test sets itself
    (``monkeypatch.setenv``) before calling the factory are read as usual. Invalid values
    raise :class:`pcm_ops.errors.ConfigError`.
    """
    _isolate_from_environment(monkeypatch)
    chosen = _chosen_plugins(request, pcm_plugins)

    def make(**overrides: Any) -> Settings:
        from pcm_ops.settings import load_settings

        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "database_url": pcm_database_url,
            "plugins": [_plugin_id(spec) for spec in chosen],
            "metrics_refresh_seconds": 0,  # a test's scrape sees what it just did
            # A test process starts hundreds of apps: freezing what each start-up made
            # would keep every earlier test's objects for good.
            "tune_gc": False,
        }
        values.update(overrides)
        config_file = values.pop("config_file", None)
        return load_settings(config_file, **values)

    return make


@pytest.fixture
def pcm_settings(make_pcm_settings: Callable[..., Settings]) -> Settings:
    """Core settings for this test: a temporary data directory, the test's database
    (``pcm_database_url``), and ``plugins`` limited to ``pcm_plugins``."""
    return make_pcm_settings()


def _entry_points_for(specs: Sequence[PluginSpec]) -> list[EntryPoint]:
    from pcm_ops.discovery import installed_entry_points

    installed = {entry_point.name: entry_point for entry_point in installed_entry_points()}
    chosen: list[EntryPoint] = []
    for spec in specs:
        if isinstance(spec, EntryPoint):
            chosen.append(spec)
        elif spec in installed:
            chosen.append(installed[spec])
        else:
            known = ", ".join(sorted(installed)) or "none"
            raise LookupError(
                f"no installed plugin has the id {spec!r} (installed: {known}); install it "
                "(`pip install -e .` in the plugin's folder) or pass an "
                "importlib.metadata.EntryPoint(name, 'module', 'pcm_ops.plugins')"
            )
    return chosen


def _discover(specs: Sequence[PluginSpec], settings: Settings) -> tuple[Settings, PluginRegistry]:
    from pcm_ops.discovery import discover

    entry_points = _entry_points_for(specs)
    settings = settings.model_copy(update={"plugins": [ep.name for ep in entry_points]})
    return settings, discover(settings, entry_points_=entry_points)


@pytest.fixture
def make_pcm_registry(
    request: pytest.FixtureRequest, pcm_settings: Settings, pcm_plugins: Sequence[PluginSpec]
) -> Callable[..., PluginRegistry]:
    """A factory of plugin registries: ``make_pcm_registry(*plugins, settings=None)``.

    Discovers exactly the plugins named, and no other installed one: each is an installed
    plugin's id, or an ``importlib.metadata.EntryPoint(name, value, "pcm_ops.plugins")`` for
    a module that is importable but not installed as a plugin. With no plugin named, the
    test's: its ``pcm_plugins`` marker's, else the ``pcm_plugins`` fixture's. The registry
    is discovered from ``settings`` (default ``pcm_settings``) with ``plugins`` set to the
    ids named, so the ordinary allow-list applies; ``strict_plugins`` and plugin sections
    come from ``settings``.

    Discovery errors propagate: :class:`~pcm_ops.errors.ConfigError` for invalid plugin
    settings, :class:`~pcm_ops.errors.PluginError` in strict mode.
    """

    default = _chosen_plugins(request, pcm_plugins)

    def make(*plugins: PluginSpec, settings: Settings | None = None) -> PluginRegistry:
        chosen = plugins or default
        return _discover(chosen, pcm_settings if settings is None else settings)[1]

    return make


@pytest.fixture
def pcm_registry(
    make_pcm_registry: Callable[..., PluginRegistry], pcm_settings: Settings
) -> PluginRegistry:
    """The registry of the test's plugins (its ``pcm_plugins`` marker's, else the
    ``pcm_plugins`` fixture's), discovered with ``pcm_settings``.

    ``pcm_registry.get("<id>")`` gives a plugin's record: its ``state`` (``loaded``,
    ``failed``...), ``error``, ``config`` (its validated settings) and ``routes``.
    """
    return make_pcm_registry(settings=pcm_settings)


# -------------------------------------------------------------------------------------------
# Application
# -------------------------------------------------------------------------------------------


@pytest.fixture
def make_pcm_app(
    request: pytest.FixtureRequest, pcm_settings: Settings, pcm_plugins: Sequence[PluginSpec]
) -> Callable[..., FastAPI]:
    """A factory of applications: ``make_pcm_app(*plugins, settings=None, registry=None)``.

    Without ``registry``, discovers the plugins named (as :func:`make_pcm_registry` does)
    with ``settings`` (default ``pcm_settings``). The application's lifespan does not run
    until a client starts it: use :func:`pcm_ops.testing.app_client`, or ``pcm_client`` for
    ``pcm_app``.
    """
    default = _chosen_plugins(request, pcm_plugins)

    def make(
        *plugins: PluginSpec,
        settings: Settings | None = None,
        registry: PluginRegistry | None = None,
    ) -> FastAPI:
        from pcm_ops.app import create_app

        if settings is None:
            settings = pcm_settings
        if registry is None:
            settings, registry = _discover(plugins or default, settings)
        return create_app(settings, registry=registry)

    return make


@pytest.fixture
def pcm_app(
    make_pcm_app: Callable[..., FastAPI], pcm_settings: Settings, pcm_registry: PluginRegistry
) -> FastAPI:
    """The application built by :func:`pcm_ops.app.create_app` from ``pcm_settings`` and
    ``pcm_registry`` (so ``pcm_app.state.registry is pcm_registry``). Its lifespan has not
    run; ``pcm_running_app`` (and so ``pcm_client``) runs it."""
    return make_pcm_app(settings=pcm_settings, registry=pcm_registry)


@async_fixture
async def pcm_running_app(pcm_app: FastAPI) -> AsyncIterator[Any]:
    """``pcm_app`` with its lifespan running: plugins' start-up hooks have run before the
    test and their shutdown hooks run after it. ``pcm_client`` and ``pcm_admin_client``
    send their requests to it; request it directly to check what start-up did."""
    from asgi_lifespan import LifespanManager

    from pcm_ops.testing import state_per_request

    async with LifespanManager(
        state_per_request(pcm_app), startup_timeout=60, shutdown_timeout=60
    ) as manager:
        yield manager.app


@async_fixture
async def pcm_client(pcm_running_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` for ``pcm_app`` without credentials (base URL
    ``http://testserver``), with the application's lifespan running.

    Without credentials only public paths answer (``/healthz``, ``/readyz``); others answer
    401. Send a token's headers per request to act as a user::

        async def test_viewers_may_list_notes(pcm_client, pcm_auth_headers):
            headers = await pcm_auth_headers("viewer")
            response = await pcm_client.get("/api/tools/example/notes/notes", headers=headers)
            assert response.status_code == 200

    The database is not migrated unless the test also requests ``pcm_migrated_database``
    (or ``pcm_auth_headers``) *before* ``pcm_client``.
    """
    import httpx

    transport = httpx.ASGITransport(app=pcm_running_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def pcm_cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with Argon2's cheapest parameters during the test.

    Tests create many users (``pcm_auth_headers``, a login); with the production parameters
    (about 0.1 s of CPU per hash by design) hashing dominates their run time, and what they
    test does not depend on the cost. Make it apply to every test of a suite with::

        @pytest.fixture(autouse=True)
        def _cheap_passwords(pcm_cheap_passwords):
            pass
    """
    from argon2 import PasswordHasher

    from pcm_ops.security import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    passwords._dummy_hash.cache_clear()


@async_fixture
async def pcm_live_server(pcm_running_app: Any) -> AsyncIterator[str]:
    """The running application served by uvicorn on a free loopback port
    (:func:`pcm_ops.testing.serve`): its base URL, ``http://127.0.0.1:<port>``, for a
    browser or any other real HTTP client."""
    from pcm_ops.testing import serve

    async with serve(pcm_running_app) as url:
        yield url


@pytest.fixture
def pcm_chromium() -> Path:
    """The Chromium executable for browser tests (``PCM_TEST_CHROMIUM``, default Debian's
    ``/usr/bin/chromium``); skips the test when it is not there. Request it before the
    fixtures that build a fleet or a server, so that a skipped test costs nothing::

        async def test_the_page(pcm_chromium, pcm_live_server):
            from playwright.async_api import async_playwright

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
                )
    """
    chromium = Path(os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium"))
    if not chromium.is_file():
        pytest.skip(
            f"no Chromium at {chromium}: install Debian's (apt-get install chromium) or set "
            f"{CHROMIUM_ENV} to a Chromium executable"
        )
    return chromium


@pytest.fixture
def pcm_auth_headers(
    pcm_migrated_database: Database, pcm_app: FastAPI
) -> Callable[..., Awaitable[dict[str, str]]]:
    """A factory of credentials: ``await pcm_auth_headers(role="admin", scopes=None)``.

    Creates a user with ``role`` (``admin``, ``operator`` or ``viewer``) and an API token in
    the test's migrated database, and returns the request headers that carry it
    (``{"Authorization": "Bearer pcm_..."}``). ``scopes`` narrows the token to those
    permissions (default: every permission the role holds in ``pcm_app``). See
    :func:`pcm_ops.testing.issue_api_token`.
    """

    async def make(role: str = "admin", scopes: list[str] | None = None) -> dict[str, str]:
        from pcm_ops.testing import issue_api_token

        token = await issue_api_token(pcm_app, role=role, scopes=scopes)
        return {"Authorization": f"Bearer {token}"}

    return make


@async_fixture
async def pcm_admin_client(
    pcm_auth_headers: Callable[..., Awaitable[dict[str, str]]], pcm_running_app: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` for ``pcm_app`` that sends an admin's API token with every
    request, on the migrated database; the application's lifespan is running. An admin
    holds every permission, core's and the plugins'."""
    import httpx

    headers = await pcm_auth_headers("admin")
    transport = httpx.ASGITransport(app=pcm_running_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        yield client


@async_fixture
async def pcm_migrated_database(
    pcm_settings: Settings, pcm_registry: PluginRegistry
) -> AsyncIterator[Database]:
    """The test's database migrated to the heads of core and of every loaded plugin.

    Runs :func:`pcm_ops.db.migrations.upgrade` (the same code as ``pcm-ops db upgrade``)
    and returns a :class:`pcm_ops.db.engine.Database` on it, disposed after the test::

        async def test_adds_a_note(pcm_migrated_database):
            async with pcm_migrated_database.session() as session:
                session.add(Note(title="hi"))

    Seeds are not run; call :func:`pcm_ops.db.seeds.run_seeds` for that.
    """
    import anyio.to_thread

    from pcm_ops.db.engine import Database
    from pcm_ops.db.migrations import upgrade

    # Alembic is synchronous and may run an event loop of its own: keep it off this one.
    await anyio.to_thread.run_sync(lambda: upgrade(pcm_settings, pcm_registry, target="heads"))
    database = Database(pcm_settings)
    try:
        yield database
    finally:
        await database.dispose()


class CliOutcome(NamedTuple):
    """What a ``pcm-ops`` command did: its exit status, output and errors."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def pcm_cli(
    tmp_path: Path,
    pcm_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., Callable[..., CliOutcome]]:
    """``run = pcm_cli("my-plugin")``: ``pcm-ops`` as a user types it, in this process, on the
    test's database (migrated first unless ``upgrade=False``), with only those plugins
    enabled and no other ``PCM_*`` variable of the calling shell::

        def test_lists_notes(pcm_cli):
            run = pcm_cli("example")
            assert run("example", "hello").stdout == "Hello, operator!\n"

    ``run(*args)`` returns a :class:`CliOutcome` (``exit_code``, ``stdout``, ``stderr``).
    """
    from pcm_ops.cli.main import main

    def make(*plugins: str, upgrade: bool = True) -> Callable[..., CliOutcome]:
        for name in [
            n for n in os.environ if n.startswith("PCM_") and not n.startswith("PCM_TEST_")
        ]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("PCM_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("PCM_DATABASE_URL", pcm_database_url)
        monkeypatch.setenv("PCM_PLUGINS", ",".join(plugins))

        def run(*args: str) -> CliOutcome:
            capsys.readouterr()
            with pytest.raises(SystemExit) as exited:
                main(list(args))
            captured = capsys.readouterr()
            return CliOutcome(int(exited.value.code or 0), captured.out, captured.err)

        if upgrade:
            upgraded = run("db", "upgrade")
            assert upgraded.exit_code == 0, upgraded.stderr
        return run

    return make


# ``pcm-ops worker`` processes (its module imports only pytest and the standard library).
from pcm_ops.testing.workers import pcm_workers  # noqa: E402, F401
