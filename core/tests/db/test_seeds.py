"""Seeds run once per version, each in its own transaction, failures isolated."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint

import pytest
from sqlalchemy import text

from pcm_ops.db.engine import Database
from pcm_ops.db.migrations import upgrade
from pcm_ops.db.seeds import SeedOutcome, SeedStatus, run_seeds, run_seeds_sync
from pcm_ops.errors import DatabaseError
from pcm_ops.registry import PluginRegistry
from pcm_ops.settings import Settings

MakeEnv = Callable[..., tuple[Settings, PluginRegistry]]


async def seed(
    settings: Settings, registry: PluginRegistry, demo: bool = False
) -> dict[tuple[str, str | None], SeedOutcome]:
    database = Database(settings)
    try:
        outcomes = await run_seeds(settings, registry, database, demo=demo)
    finally:
        await database.dispose()
    return {(outcome.owner, outcome.name): outcome for outcome in outcomes}


async def rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    database = Database(settings)
    try:
        async with database.engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await database.dispose()


async def test_a_seed_runs_once(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry)

    first = await seed(settings, registry)
    second = await seed(settings, registry)

    assert first["db-widgets", "starter-widgets"].status is SeedStatus.APPLIED
    assert second["db-widgets", "starter-widgets"].status is SeedStatus.UP_TO_DATE
    assert await rows(settings, "SELECT name FROM dbw_widget") == [("starter-v1",)]
    recorded = await rows(settings, "SELECT owner, name, version FROM pcm_seed")
    assert recorded == [("db-widgets", "starter-widgets", 1)]


async def test_a_seed_runs_again_when_its_version_grows(
    make_env: MakeEnv, widgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry)
    await seed(settings, registry)
    _, bumped = make_env(widgets, config={"db-widgets": {"seed_version": 2}})

    outcomes = await seed(settings, bumped)

    assert outcomes["db-widgets", "starter-widgets"].status is SeedStatus.APPLIED
    assert outcomes["db-widgets", "starter-widgets"].version == 2
    names = await rows(settings, "SELECT name FROM dbw_widget ORDER BY id")
    assert names == [("starter-v1",), ("starter-v2",)]
    assert await rows(settings, "SELECT version FROM pcm_seed") == [(2,)]


async def test_a_seed_whose_version_went_down_does_not_run(
    make_env: MakeEnv, widgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets, config={"db-widgets": {"seed_version": 3}})
    upgrade(settings, registry)
    await seed(settings, registry)
    _, older = make_env(widgets, config={"db-widgets": {"seed_version": 2}})

    outcomes = await seed(settings, older)

    assert outcomes["db-widgets", "starter-widgets"].status is SeedStatus.UP_TO_DATE


async def test_a_failing_seed_records_nothing_and_other_plugins_seeds_still_run(
    make_env: MakeEnv, widgets: EntryPoint, gadgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets, gadgets, config={"db-widgets": {"seed_fails": True}})
    upgrade(settings, registry)

    outcomes = await seed(settings, registry)

    failed = outcomes["db-widgets", "starter-widgets"]
    assert failed.status is SeedStatus.FAILED
    assert not failed.ok
    assert failed.describe() == (
        "plugin 'db-widgets', seed 'starter-widgets' v1: failed "
        "(RuntimeError: the widget factory is closed)"
    )
    assert outcomes["db-gadgets", "default-gadgets"].status is SeedStatus.APPLIED
    assert await rows(settings, "SELECT name FROM dbw_widget") == []
    recorded = await rows(settings, "SELECT owner, name FROM pcm_seed")
    assert recorded == [("db-gadgets", "default-gadgets")]


async def test_demo_only_seeds_run_only_in_demo_mode(
    make_env: MakeEnv, widgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry)

    normal = await seed(settings, registry)
    demo = await seed(settings, registry, demo=True)

    assert normal["db-widgets", "demo-widgets"].status is SeedStatus.SKIPPED
    assert demo["db-widgets", "demo-widgets"].status is SeedStatus.APPLIED
    assert ("demo",) in await rows(settings, "SELECT name FROM dbw_widget")


async def test_seeding_an_unmigrated_database_is_a_database_error(
    make_env: MakeEnv, widgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets)

    with pytest.raises(DatabaseError, match="no pcm_seed table yet; run `pcm-ops db upgrade`"):
        await seed(settings, registry)


def test_the_sync_wrapper_runs_the_seeds(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry)

    outcomes = run_seeds_sync(settings, registry)

    assert [(o.name, o.status) for o in outcomes] == [
        ("starter-widgets", SeedStatus.APPLIED),
        ("demo-widgets", SeedStatus.SKIPPED),
    ]
