"""Upgrading, downgrading and the status of core's tree and of plugins' trees."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from pcm_ops.db.migrations import BranchStatus, branch_status, downgrade, upgrade
from pcm_ops.errors import DatabaseError, PluginError
from pcm_ops.registry import PluginState
from pcm_ops.settings import Settings

Tables = Callable[[Settings], set[str]]
MakeEnv = Callable[..., tuple[Settings, object]]


def by_owner(rows: list[BranchStatus]) -> dict[str, BranchStatus]:
    return {row.owner: row for row in rows}


def test_an_empty_database_has_every_revision_of_core_pending(make_env: MakeEnv) -> None:
    settings, registry = make_env()

    [core] = branch_status(settings, registry)

    assert (core.owner, core.branch_label, core.current) == ("core", "core", None)
    assert core.pending[0] == "core_0001"
    assert core.pending[-1] == core.head
    assert not core.at_head


def test_upgrade_heads_brings_core_to_its_head(
    make_env: MakeEnv, db_tables: Tables, core_tables: set[str]
) -> None:
    settings, registry = make_env()

    upgrade(settings, registry)

    [core] = branch_status(settings, registry)
    assert core.at_head
    assert core.current == core.head
    assert core.pending == []
    assert core_tables | {"alembic_version"} <= db_tables(settings)


def test_upgrade_twice_changes_nothing(make_env: MakeEnv) -> None:
    settings, registry = make_env()
    upgrade(settings, registry)

    upgrade(settings, registry)

    assert branch_status(settings, registry)[0].at_head


def test_downgrade_core_to_base_removes_its_tables(
    make_env: MakeEnv, db_tables: Tables, core_tables: set[str]
) -> None:
    settings, registry = make_env()
    upgrade(settings, registry)

    downgrade(settings, registry, "core@base")

    [core] = branch_status(settings, registry)
    assert core.current is None
    assert core_tables.isdisjoint(db_tables(settings))


def test_upgrade_to_a_core_revision_stops_there(make_env: MakeEnv, db_tables: Tables) -> None:
    settings, registry = make_env()

    upgrade(settings, registry, "core@core_0001")

    [core] = branch_status(settings, registry)
    assert core.current == "core_0001"
    assert "pcm_seed" in db_tables(settings)


def test_plugin_trees_are_listed_after_core_in_id_order(
    make_env: MakeEnv, widgets: EntryPoint, gadgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets, gadgets)

    rows = branch_status(settings, registry)

    assert [row.owner for row in rows] == ["core", "db-gadgets", "db-widgets"]
    assert by_owner(rows)["db-widgets"].pending == ["dbw_0001", "dbw_0002"]
    assert by_owner(rows)["db-widgets"].head == "dbw_0002"


def test_upgrade_heads_creates_the_plugins_tables(
    make_env: MakeEnv, widgets: EntryPoint, gadgets: EntryPoint, db_tables: Tables
) -> None:
    settings, registry = make_env(widgets, gadgets)

    upgrade(settings, registry)

    assert all(row.at_head for row in branch_status(settings, registry))
    assert {"dbw_widget", "dbg_gadget", "pcm_seed"} <= db_tables(settings)


def test_upgrading_one_plugin_applies_the_core_revision_it_depends_on(
    make_env: MakeEnv, widgets: EntryPoint, gadgets: EntryPoint, db_tables: Tables
) -> None:
    settings, registry = make_env(widgets, gadgets)

    upgrade(settings, registry, "db-widgets@head")

    rows = by_owner(branch_status(settings, registry))
    assert rows["db-widgets"].at_head
    assert rows["core"].current == "core_0001"
    assert rows["db-gadgets"].current is None
    assert "dbg_gadget" not in db_tables(settings)


def test_upgrade_to_a_plugin_revision(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)

    upgrade(settings, registry, "db-widgets@dbw_0001")

    widgets_row = by_owner(branch_status(settings, registry))["db-widgets"]
    assert widgets_row.current == "dbw_0001"
    assert widgets_row.pending == ["dbw_0002"]


def test_upgrade_to_a_revision_id(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)

    upgrade(settings, registry, "dbw_0002")

    assert by_owner(branch_status(settings, registry))["db-widgets"].at_head


def test_downgrade_a_plugin_to_base_drops_only_its_tables(
    make_env: MakeEnv,
    widgets: EntryPoint,
    gadgets: EntryPoint,
    db_tables: Tables,
    core_tables: set[str],
    version_rows: Callable[[Settings], set[str]],
) -> None:
    settings, registry = make_env(widgets, gadgets)
    upgrade(settings, registry)

    downgrade(settings, registry, "db-widgets@base")

    rows = by_owner(branch_status(settings, registry))
    assert rows["db-widgets"].current is None
    assert rows["db-gadgets"].at_head
    assert rows["core"].at_head
    remaining = db_tables(settings)
    assert "dbw_widget" not in remaining
    assert {"dbg_gadget"} | core_tables <= remaining
    assert not any(revision.startswith("dbw_") for revision in version_rows(settings))


def test_downgrade_a_plugin_by_one_revision(make_env: MakeEnv, widgets: EntryPoint) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry)

    downgrade(settings, registry, "db-widgets@-1")

    assert by_owner(branch_status(settings, registry))["db-widgets"].current == "dbw_0001"


def test_a_target_naming_an_unknown_plugin_is_a_database_error(make_env: MakeEnv) -> None:
    settings, registry = make_env()

    with pytest.raises(DatabaseError, match=r"'no-such-plugin'.*no plugin has this id"):
        upgrade(settings, registry, "no-such-plugin@head")


def test_a_target_naming_an_unknown_revision_is_a_database_error(make_env: MakeEnv) -> None:
    settings, registry = make_env()

    with pytest.raises(DatabaseError, match=r"upgrade to 'core_9999' failed: .*core_9999"):
        upgrade(settings, registry, "core_9999")


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
def test_an_unreachable_database_is_a_one_line_database_error(make_env: MakeEnv) -> None:
    settings, registry = make_env(database_url="postgresql://nobody@127.0.0.1:1/nothing")

    with pytest.raises(DatabaseError, match="cannot connect to the database") as caught:
        branch_status(settings, registry)

    assert "\n" not in str(caught.value)
    assert "PCM_DATABASE_URL" in str(caught.value)


def test_revisions_of_a_disabled_plugin_are_left_alone(
    make_env: MakeEnv,
    widgets: EntryPoint,
    gadgets: EntryPoint,
    db_tables: Tables,
    version_rows: Callable[[Settings], set[str]],
) -> None:
    settings, registry = make_env(widgets, gadgets)
    upgrade(settings, registry)
    without_widgets_settings, without_widgets = make_env(gadgets)

    upgrade(without_widgets_settings, without_widgets)
    downgrade(without_widgets_settings, without_widgets, "db-gadgets@base")

    assert [row.owner for row in branch_status(settings, without_widgets)] == [
        "core",
        "db-gadgets",
    ]
    assert "dbw_0002" in version_rows(settings)
    assert "dbw_widget" in db_tables(settings)
    _, with_widgets = make_env(widgets)
    assert by_owner(branch_status(settings, with_widgets))["db-widgets"].at_head
    downgrade(settings, with_widgets, "db-widgets@base")  # Alembic takes it up again
    assert "dbw_widget" not in db_tables(settings)


def test_a_plugin_table_without_the_plugins_prefix_fails_the_plugin(
    make_env: MakeEnv, misnamed: EntryPoint, widgets: EntryPoint
) -> None:
    settings, registry = make_env(misnamed, widgets)

    rows = branch_status(settings, registry)

    record = registry.get("db-misnamed")
    assert record is not None
    assert record.state is PluginState.FAILED
    assert "'misnamed_thing'" in (record.error or "")
    assert "'dbm_'" in (record.error or "")
    assert [row.owner for row in rows] == ["core", "db-widgets"]


def test_in_strict_mode_a_misnamed_table_is_an_error_naming_plugin_and_table(
    make_env: MakeEnv, misnamed: EntryPoint
) -> None:
    settings, registry = make_env(misnamed, strict_plugins=True)

    with pytest.raises(PluginError, match="plugin 'db-misnamed': table 'misnamed_thing'"):
        branch_status(settings, registry)


def test_a_tree_whose_first_revision_has_no_branch_label_fails_the_plugin(
    make_env: MakeEnv, widgets: EntryPoint, widgets_versions: Path
) -> None:
    (widgets_versions / "dbw_0001_unlabelled.py").write_text(
        'revision = "dbw_0001"\ndown_revision = None\nbranch_labels = None\n'
        "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    settings, registry = make_env(widgets)

    rows = branch_status(settings, registry)

    assert [row.owner for row in rows] == ["core"]
    record = registry.get("db-widgets")
    assert record is not None
    assert record.state is PluginState.FAILED
    assert "branch_labels = ('db-widgets',)" in (record.error or "")


def test_disabling_a_plugin_that_depends_on_core_keeps_cores_position(
    make_env: MakeEnv, widgets: EntryPoint, core_tables: set[str], db_tables: Tables
) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry, "db-widgets@head")  # core stays at core_0001, which widgets needs
    core_only_settings, core_only = make_env()

    [core] = branch_status(core_only_settings, core_only)
    upgrade(core_only_settings, core_only)

    assert core.current == "core_0001"
    assert branch_status(core_only_settings, core_only)[0].at_head
    assert core_tables <= db_tables(settings)
    assert all(row.at_head for row in branch_status(settings, registry))
    upgrade(settings, registry)  # with the plugin enabled again
    downgrade(settings, registry, "db-widgets@-1")
    assert by_owner(branch_status(settings, registry))["db-widgets"].current == "dbw_0001"


def test_downgrading_core_to_base_also_reverts_the_plugins_that_depend_on_it(
    make_env: MakeEnv, widgets: EntryPoint, db_tables: Tables
) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry)

    downgrade(settings, registry, "core@base")

    assert all(row.current is None for row in branch_status(settings, registry))
    assert db_tables(settings) <= {"alembic_version"}


def test_upgrading_core_after_a_plugin_pinned_it_to_an_older_revision(
    make_env: MakeEnv, widgets: EntryPoint
) -> None:
    settings, registry = make_env(widgets)
    upgrade(settings, registry, "db-widgets@head")

    upgrade(settings, registry, "core@head")

    assert all(row.at_head for row in branch_status(settings, registry))


BROKEN_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "dbw_0001"
down_revision = None
branch_labels = ("db-widgets",)
depends_on = "core_0001"


def upgrade():
    op.create_table("dbw_widget", sa.Column("id", sa.Integer(), primary_key=True))
    raise RuntimeError("this migration is broken")


def downgrade():
    op.drop_table("dbw_widget")
"""


def test_a_failing_migration_leaves_nothing_behind_and_names_its_file(
    make_env: MakeEnv, widgets: EntryPoint, widgets_versions: Path, db_tables: Tables
) -> None:
    broken = widgets_versions / "dbw_0001_broken.py"
    broken.write_text(BROKEN_REVISION)
    settings, registry = make_env(widgets)

    with pytest.raises(DatabaseError) as caught:
        upgrade(settings, registry)

    assert str(caught.value) == (
        f"upgrade to 'heads' failed in {broken}: RuntimeError: this migration is broken"
    )
    assert db_tables(settings) <= {"alembic_version"}
    assert all(row.current is None for row in branch_status(settings, registry))


def test_a_plugin_whose_revision_file_does_not_import_is_failed_naming_the_file(
    make_env: MakeEnv, widgets: EntryPoint, widgets_versions: Path
) -> None:
    (widgets_versions / "dbw_0001_typo.py").write_text("revision = 'dbw_0001'\ndef broken(:\n")
    settings, registry = make_env(widgets)

    rows = branch_status(settings, registry)

    assert [row.owner for row in rows] == ["core"]
    record = registry.get("db-widgets")
    assert record is not None
    assert record.state is PluginState.FAILED
    assert "cannot read the migration trees in " in (record.error or "")
    assert "dbw_0001_typo.py: SyntaxError" in (record.error or "")
