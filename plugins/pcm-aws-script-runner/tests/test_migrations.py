"""The plugin's migration tree: models and migrations agree, and the branch comes and goes."""

from __future__ import annotations

import anyio.to_thread

from pcm_ops.db.migrations import branch_status, check, downgrade, upgrade


async def tables(database) -> set[str]:
    from sqlalchemy import inspect

    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_models_and_migrations_agree(pcm_settings, pcm_registry, pcm_migrated_database):
    differences = await anyio.to_thread.run_sync(lambda: check(pcm_settings, pcm_registry))

    assert differences == []


async def test_the_first_revision_starts_the_branch_and_depends_on_core(pcm_settings, pcm_registry):
    from alembic.script import ScriptDirectory

    from pcm_ops.db.migrations import _Environment

    scripts = ScriptDirectory.from_config(_Environment.build(pcm_settings, pcm_registry).config())
    first = scripts.get_revision("aws_sr_0001")

    assert first.down_revision is None
    assert first.branch_labels == {"aws-script-runner"}
    assert first.dependencies == "core_0002"


async def test_the_branch_downgrades_to_base_and_back(
    pcm_settings, pcm_registry, pcm_migrated_database
):
    assert {"aws_sr_script", "aws_sr_script_version"} <= await tables(pcm_migrated_database)

    await anyio.to_thread.run_sync(
        lambda: downgrade(pcm_settings, pcm_registry, "aws-script-runner@base")
    )
    after_downgrade = await tables(pcm_migrated_database)
    status = {row.owner: row for row in branch_status(pcm_settings, pcm_registry)}
    await anyio.to_thread.run_sync(lambda: upgrade(pcm_settings, pcm_registry))

    assert not {t for t in after_downgrade if t.startswith("aws_sr_")}
    assert "pcm_user" in after_downgrade
    assert status["aws-script-runner"].current is None
    assert status["core"].at_head
    assert {"aws_sr_script", "aws_sr_script_version"} <= await tables(pcm_migrated_database)
