"""The tables: saved versions are immutable even to code that bypasses the services."""

from __future__ import annotations

import pytest

from pcm_aws_script_runner.models import ImmutableVersionError
from pcm_aws_script_runner.services.scripts import create_script, get_version
from pcm_aws_script_runner.services.validation import ScriptDraft
from pcm_ops.audit import Actor


async def saved_script_id(database) -> int:
    async with database.session() as session:
        script, _ = await create_script(
            session, ScriptDraft("x", "shell", "true\n"), Actor("tester")
        )
    return script.id


async def change_body(database, script_id: int) -> None:
    async with database.session() as session:
        version = await get_version(session, script_id, 1)
        version.body = "rm -rf /\n"


async def delete_version(database, script_id: int) -> None:
    async with database.session() as session:
        await session.delete(await get_version(session, script_id, 1))


async def test_a_saved_version_cannot_be_changed(pcm_migrated_database):
    script_id = await saved_script_id(pcm_migrated_database)

    with pytest.raises(ImmutableVersionError, match="immutable; save a new version"):
        await change_body(pcm_migrated_database, script_id)

    async with pcm_migrated_database.session() as session:
        assert (await get_version(session, script_id, 1)).body == "true\n"


async def test_a_saved_version_cannot_be_deleted(pcm_migrated_database):
    script_id = await saved_script_id(pcm_migrated_database)

    with pytest.raises(ImmutableVersionError):
        await delete_version(pcm_migrated_database, script_id)
