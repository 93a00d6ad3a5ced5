"""The plugin's models and migrations agree, and its tree goes up and down on its own."""

from __future__ import annotations

import anyio.to_thread
from sqlalchemy import inspect

from pcm_ops.db.engine import create_sync_engine
from pcm_ops.db.migrations import branch_status, check, downgrade

TABLES = {
    "aws_common_partition",
    "aws_common_region",
    "aws_common_credential_source",
    "aws_common_account",
}


def _tables(settings):
    engine = create_sync_engine(settings)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


async def test_models_and_migrations_agree(pcm_settings, pcm_registry, pcm_migrated_database):
    differences = await anyio.to_thread.run_sync(check, pcm_settings, pcm_registry)

    assert differences == []


async def test_the_tree_goes_down_to_base_and_up_again(
    pcm_settings, pcm_registry, pcm_migrated_database
):
    from pcm_ops.db.migrations import upgrade

    assert _tables(pcm_settings) >= TABLES

    await anyio.to_thread.run_sync(downgrade, pcm_settings, pcm_registry, "aws-common@base")
    remaining = _tables(pcm_settings)
    status = {row.owner: row for row in branch_status(pcm_settings, pcm_registry)}

    assert not TABLES & remaining
    assert "pcm_user" in remaining  # core's tables stay
    assert status["aws-common"].current is None
    assert status["core"].at_head

    await anyio.to_thread.run_sync(upgrade, pcm_settings, pcm_registry, "aws-common@head")
    assert _tables(pcm_settings) >= TABLES


async def test_the_first_revision_starts_the_branch_on_cores_user_table():
    from pathlib import Path

    import pcm_aws_common

    versions = Path(pcm_aws_common.__file__).parent / "migrations" / "versions"
    [first] = sorted(versions.glob("aws_common_0001_*.py"))
    text = first.read_text()

    assert 'branch_labels: str | Sequence[str] | None = ("aws-common",)' in text
    assert "down_revision: str | Sequence[str] | None = None" in text
    assert 'depends_on: str | Sequence[str] | None = "core_0002"' in text
