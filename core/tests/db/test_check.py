"""``check``: do the models and the schema the migrations build agree?"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint

import pytest

from pcm_ops.db.migrations import check, upgrade
from pcm_ops.errors import DatabaseError
from pcm_ops.settings import Settings

MakeEnv = Callable[..., tuple[Settings, object]]


def test_cores_models_and_migrations_agree(make_env: MakeEnv) -> None:
    settings, registry = make_env()
    upgrade(settings, registry)

    assert check(settings, registry) == []


def test_a_plugins_models_and_migrations_agree(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry)

    assert check(settings, registry) == []


def test_a_model_column_missing_from_the_migrations_is_reported(
    make_env: MakeEnv, gadgets: EntryPoint
) -> None:
    settings, registry = make_env(gadgets)
    upgrade(settings, registry)

    differences = check(settings, registry)

    assert differences == ["column dbg_gadget.color: in the models but not in the migrations"]


def test_tables_of_plugins_that_are_not_loaded_are_ignored(
    make_env: MakeEnv, widgets: EntryPoint, gadgets: EntryPoint
) -> None:
    settings, with_both = make_env(widgets, gadgets)
    upgrade(settings, with_both)  # dbg_gadget and dbw_widget now exist
    _, widgets_only = make_env(widgets)

    assert check(settings, widgets_only) == []


def test_check_needs_a_database_at_head(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry, "db-widgets@dbw_0001")

    with pytest.raises(DatabaseError, match=r"not up to date \(.*db-widgets: dbw_0002 pending"):
        check(settings, registry)
