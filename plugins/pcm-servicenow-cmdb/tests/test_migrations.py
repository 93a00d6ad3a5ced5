"""The plugin's migration tree: models and migrations agree, ``snow_0002`` adds the client
certificate columns and takes them away again, keeping the connections."""

from __future__ import annotations

import anyio.to_thread

from pcm_ops.db.migrations import check, downgrade, upgrade


async def columns(database) -> set[str]:
    from sqlalchemy import inspect

    async with database.engine.connect() as connection:
        return {
            column["name"]
            for column in await connection.run_sync(
                lambda sync: inspect(sync).get_columns("snow_connection")
            )
        }


async def test_models_and_migrations_agree(pcm_settings, pcm_registry, pcm_migrated_database):
    differences = await anyio.to_thread.run_sync(lambda: check(pcm_settings, pcm_registry))

    assert differences == []


async def test_the_client_certificate_revision_follows_the_first(pcm_settings, pcm_registry):
    from alembic.script import ScriptDirectory

    from pcm_ops.db.migrations import _Environment

    scripts = ScriptDirectory.from_config(_Environment.build(pcm_settings, pcm_registry).config())

    assert scripts.get_revision("snow_0002").down_revision == "snow_0001"
    assert scripts.get_revision("snow_0001").branch_labels == {"servicenow-cmdb"}


async def test_snow_0002_downgrades_and_upgrades_keeping_the_connections(
    pcm_settings, pcm_registry, pcm_migrated_database
):
    from sqlalchemy import text

    async with pcm_migrated_database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO snow_connection (name, base_url, auth_kind, username, client_id,"
                " timeout_seconds, last_error, created_by, created_at, updated_at) VALUES"
                " ('acme', 'https://acme.service-now.com', 'basic', 'u', '', 10, '', 'test',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    assert {"client_cert", "client_key"} <= await columns(pcm_migrated_database)

    await anyio.to_thread.run_sync(lambda: downgrade(pcm_settings, pcm_registry, "snow_0001"))
    after_downgrade = await columns(pcm_migrated_database)
    await anyio.to_thread.run_sync(lambda: upgrade(pcm_settings, pcm_registry))

    assert not {"client_cert", "client_key"} & after_downgrade
    assert {"client_cert", "client_key"} <= await columns(pcm_migrated_database)
    async with pcm_migrated_database.engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM snow_connection"))).all()
    assert [name for (name,) in names] == ["acme"]
