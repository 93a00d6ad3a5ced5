"""The pytest fixtures core ships for plugin test suites (pcm_ops.testing.fixtures), run the
way a plugin's suite runs them: in a pytest session of their own (pytester), in a process of
its own (an in-process run would import table models a second time into SQLModel's shared
metadata, and DBOS allows one instance per process)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

pytest_plugins = ["pytester"]

TINY_PLUGIN = """
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(id="{id}", display_name="{id}", provider="test", tool="{id}")
"""

SUITE_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A plugin's test folder: two small plugins that are not installed (``tiny`` and
    ``other``, importable from the folder)."""
    pytester.makeini(SUITE_INI)
    pytester.makepyfile(
        tiny_plugin=TINY_PLUGIN.format(id="tiny"), other_plugin=TINY_PLUGIN.format(id="other")
    )
    pytester.syspathinsert()
    return pytester


PLUGINS_CONFTEST = """
from importlib.metadata import EntryPoint

import pytest

TINY = EntryPoint("tiny", "tiny_plugin", "pcm_ops.plugins")
OTHER = EntryPoint("other", "other_plugin", "pcm_ops.plugins")


@pytest.fixture
def pcm_plugins():
    return [TINY]
"""

MARKED_TESTS = """
import pytest

from conftest import OTHER


def loaded(registry):
    return [record.id for record in registry.loaded()]


def test_without_a_marker_the_conftest_fixture_chooses(pcm_registry, pcm_settings):
    assert loaded(pcm_registry) == ["tiny"]
    assert pcm_settings.plugins == ["tiny"]


@pytest.mark.pcm_plugins(OTHER)
def test_the_marker_wins_over_the_fixture(pcm_registry, pcm_settings):
    assert loaded(pcm_registry) == ["other"]
    assert pcm_settings.plugins == ["other"]


@pytest.mark.pcm_plugins("tiny", OTHER)
def test_a_marker_id_means_the_entry_point_the_fixture_returns(pcm_registry):
    assert loaded(pcm_registry) == ["other", "tiny"]


@pytest.mark.pcm_plugins()
def test_an_empty_marker_loads_no_plugin(pcm_registry, pcm_settings):
    assert loaded(pcm_registry) == []
    assert pcm_settings.plugins == []


@pytest.mark.pcm_plugins(OTHER)
def test_the_factories_follow_the_marker_too(make_pcm_registry, make_pcm_app):
    assert loaded(make_pcm_registry()) == ["other"]
    assert loaded(make_pcm_app().state.registry) == ["other"]
"""


def test_a_pcm_plugins_fixture_in_a_conftest_and_the_marker_work_together(suite, monkeypatch):
    monkeypatch.delenv("PCM_TEST_POSTGRES_URL", raising=False)  # SQLite is enough
    suite.makeconftest(PLUGINS_CONFTEST)
    suite.makepyfile(test_choice=MARKED_TESTS)

    result = suite.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=5)


SCHEMA_MODE_TESTS = """
import os

import anyio.to_thread
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from pcm_ops.db.migrations import branch_status, check, downgrade

pytestmark = pytest.mark.parametrize("pcm_backend", ["postgresql"], indirect=True)
GIVEN = make_url(os.environ["PCM_TEST_POSTGRES_URL"])


async def where(database):
    async with database.session() as session:
        query = "SELECT current_schema(), current_database(), current_user"
        schema, name, user = (await session.execute(text(query))).one()
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"
        tables = (await session.execute(text(query), {"schema": schema})).scalars()
        return schema, name, user, set(tables)


async def test_a_migrated_app_runs_in_a_schema_of_its_own(
    pcm_migrated_database, pcm_admin_client, pcm_settings, pcm_registry
):
    me = await pcm_admin_client.get("/api/auth/me")
    jobs = await pcm_admin_client.get("/api/jobs")  # DBOS's system tables, through its client

    schema, name, user, tables = await where(pcm_migrated_database)
    assert me.status_code == 200, me.text
    assert jobs.status_code == 200, jobs.text
    assert schema.startswith("pcm_test_")
    assert (name, user) == (GIVEN.database, GIVEN.username)
    assert {"alembic_version", "pcm_user", "pcm_api_token", "pcm_job_event"} <= tables
    status = await anyio.to_thread.run_sync(branch_status, pcm_settings, pcm_registry)
    assert [row.at_head for row in status] == [True]
    assert await anyio.to_thread.run_sync(check, pcm_settings, pcm_registry) == []


async def test_migrations_go_down_in_the_schema_too(
    pcm_migrated_database, pcm_settings, pcm_registry
):
    await anyio.to_thread.run_sync(downgrade, pcm_settings, pcm_registry, "core@base")

    schema, _, _, tables = await where(pcm_migrated_database)
    assert schema.startswith("pcm_test_")
    assert tables == {"alembic_version"}
"""


@pytest.fixture
def premade_database() -> Iterator[str]:
    """A database made beforehand and a user that may not create databases (nor roles),
    only schemas in that one database: ``postgresql://<user>@host/<database>``. Both are
    removed afterwards. Needs ``PCM_TEST_POSTGRES_URL`` to name a server on which its user
    may create roles and databases."""
    server_url = os.environ.get("PCM_TEST_POSTGRES_URL")
    if not server_url:
        pytest.skip("PCM_TEST_POSTGRES_URL is not set")
    server = make_url(server_url).set(drivername="postgresql+psycopg")
    suffix = uuid.uuid4().hex[:8]
    user, database = f"pcm_schema_only_{suffix}", f"pcm_premade_{suffix}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{user}" LOGIN NOCREATEDB NOCREATEROLE'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
        connection.execute(text(f'GRANT CREATE ON DATABASE "{database}" TO "{user}"'))
    try:
        yield server.set(username=user, password=None, database=database).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{user}"'))
        admin.dispose()


@pytest.mark.slow
def test_schema_isolation_runs_a_migrated_app_on_one_premade_database(
    premade_database, suite, monkeypatch
):
    # premade_database comes first: it imports the PostgreSQL driver before pytester takes
    # its snapshot of sys.modules, which would forget the driver after this test, and a
    # second copy of it would escape SQLAlchemy's error wrapping in later tests.
    monkeypatch.setenv("PCM_TEST_POSTGRES_URL", premade_database)
    monkeypatch.setenv("PCM_TEST_POSTGRES_ISOLATION", "schema")
    suite.makepyfile(test_schema_mode=SCHEMA_MODE_TESTS)

    result = suite.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)

    result.assert_outcomes(passed=2)
    engine = create_engine(premade_database, poolclass=NullPool)
    with engine.connect() as connection:
        left = connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pcm_test_%'")
        )
        assert left.scalars().all() == []
    engine.dispose()


def test_an_unknown_isolation_is_a_clear_error(suite, monkeypatch):
    monkeypatch.setenv("PCM_TEST_POSTGRES_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("PCM_TEST_POSTGRES_ISOLATION", "tables")
    suite.makepyfile(
        test_isolation="""
import pytest

@pytest.mark.parametrize("pcm_backend", ["postgresql"], indirect=True)
def test_database(pcm_database_url):
    pass
"""
    )

    result = suite.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*PCM_TEST_POSTGRES_ISOLATION='tables': use 'database'*"])
