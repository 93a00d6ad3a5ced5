"""Fixtures of the data-layer tests: test plugins with tables, migrations and seeds.

The plugins are modules of this folder (``plugin_widgets``, ``plugin_gadgets``,
``plugin_misnamed``), registered through entry points that name them by the package name
pytest gave this folder, so nothing is added to ``sys.path``. Every test gets a database of
its own, on SQLite and, when ``PCM_TEST_POSTGRES_URL`` is set, on PostgreSQL
(``pcm_database_url`` from :mod:`pcm_ops.testing.fixtures`).
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import inspect, text

from pcm_ops.db.engine import create_sync_engine
from pcm_ops.discovery import ENTRY_POINT_GROUP
from pcm_ops.registry import PluginRegistry
from pcm_ops.settings import Settings

#: The package pytest imported this folder as (e.g. ``core.tests.db``).
PACKAGE = __name__.rpartition(".")[0]

WIDGETS = EntryPoint("db-widgets", f"{PACKAGE}.plugin_widgets", ENTRY_POINT_GROUP)
GADGETS = EntryPoint("db-gadgets", f"{PACKAGE}.plugin_gadgets", ENTRY_POINT_GROUP)
MISNAMED = EntryPoint("db-misnamed", f"{PACKAGE}.plugin_misnamed", ENTRY_POINT_GROUP)

MakeEnv = Callable[..., tuple[Settings, PluginRegistry]]


def plugin_module(entry_point: EntryPoint) -> ModuleType:
    """The module an entry point of this folder names."""
    return importlib.import_module(entry_point.value)


@pytest.fixture
def widgets() -> EntryPoint:
    """Plugin ``db-widgets``: table ``dbw_widget``, revisions ``dbw_0001`` (which depends on
    ``core_0001``) and ``dbw_0002``, settings ``seed_version``/``seed_fails``, a seed and a
    demo-only seed."""
    return WIDGETS


@pytest.fixture
def gadgets() -> EntryPoint:
    """Plugin ``db-gadgets``: table ``dbg_gadget`` whose ``color`` column its only revision,
    ``dbg_0001``, lacks; one seed."""
    return GADGETS


@pytest.fixture
def misnamed() -> EntryPoint:
    """Plugin ``db-misnamed``: prefix ``dbm_`` but a table named ``misnamed_thing``."""
    return MISNAMED


@pytest.fixture
def db_tables() -> Callable[[Settings], set[str]]:
    """``db_tables(settings)``: the names of the tables in the test's database."""

    def names(settings: Settings) -> set[str]:
        engine = create_sync_engine(settings)
        try:
            with engine.connect() as connection:
                return set(inspect(connection).get_table_names())
        finally:
            engine.dispose()

    return names


@pytest.fixture
def version_rows() -> Callable[[Settings], set[str]]:
    """``version_rows(settings)``: the revisions recorded in ``alembic_version``."""

    def rows(settings: Settings) -> set[str]:
        engine = create_sync_engine(settings)
        try:
            with engine.connect() as connection:
                result = connection.execute(text("SELECT version_num FROM alembic_version"))
                return set(result.scalars())
        finally:
            engine.dispose()

    return rows


@pytest.fixture
def core_tables() -> set[str]:
    """The tables of core's models."""
    from pcm_ops.db.models import import_core_models

    return {model.__table__.name for model in import_core_models()}


@pytest.fixture
def make_env(
    make_pcm_settings: Callable[..., Settings],
    make_pcm_registry: Callable[..., PluginRegistry],
) -> MakeEnv:
    """``make_env(*entry_points, config={plugin_id: {...}}, **settings)``: settings on the
    test's database and a registry holding exactly those plugins (none: core alone)."""

    def make(
        *plugins: EntryPoint, config: dict[str, dict[str, Any]] | None = None, **overrides: Any
    ) -> tuple[Settings, PluginRegistry]:
        settings = make_pcm_settings(**overrides)
        if config:
            settings = settings.model_copy(update={"plugin_sections": config})
        return settings, make_pcm_registry(*plugins, settings=settings)

    return make


@pytest.fixture
def widgets_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty version directory for the widgets plugin, for tests that write revisions."""
    directory = tmp_path / "widgets_versions"
    directory.mkdir()
    monkeypatch.setattr(plugin_module(WIDGETS), "VERSIONS_DIR", directory)
    return directory


@pytest.fixture
def gadgets_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the gadgets plugin's version directory, for tests that write revisions."""
    module = plugin_module(GADGETS)
    directory = tmp_path / "gadgets_versions"
    shutil.copytree(module.VERSIONS_DIR, directory, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(module, "VERSIONS_DIR", directory)
    return directory
