"""Every process of an installation has the same key: one that cannot decrypt the stored
secrets refuses to start, and never leaves a new key behind over existing secrets."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest
from cryptography.fernet import Fernet

from pcm_ops.security import secrets
from pcm_ops.security.secrets import KeyMismatchError, key_fingerprint, verify_key

SECRET = "AKIA-very-secret-value-1234567890"


async def _store_secret(platform: Any) -> None:
    response = await platform.client.put(
        "/api/tools/test/vault/secrets",
        json={"name": "db", "value": SECRET},
        headers=platform.auth("oscar"),
    )
    assert response.status_code == 200, response.text


async def _verify(platform: Any) -> str:
    return await anyio.to_thread.run_sync(
        verify_key, platform.settings, platform.app.state.registry
    )


async def _check_row(platform: Any) -> Any:
    from sqlalchemy import text

    async with platform.app.state.database.engine.connect() as connection:
        result = await connection.execute(
            text("SELECT check_value, key_fingerprint FROM pcm_secret_key_check")
        )
        return result.first()


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secrets.KEY_ENV, raising=False)


async def test_first_start_records_the_check_value_under_the_key(platform: Any) -> None:
    assert await _verify(platform) == "recorded"
    row = await _check_row(platform)
    [key] = secrets.current_box().keys
    assert row.key_fingerprint == key_fingerprint(key)
    assert row.check_value.startswith("fernet:")
    assert key.decode() not in row.check_value
    assert await _verify(platform) == "matched"


async def test_another_key_is_refused_naming_both_fingerprints(
    platform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _verify(platform)
    recorded = (await _check_row(platform)).key_fingerprint
    other = Fernet.generate_key()
    monkeypatch.setenv(secrets.KEY_ENV, other.decode())
    with pytest.raises(KeyMismatchError) as refused:
        await _verify(platform)
    message = str(refused.value)
    assert recorded in message
    assert key_fingerprint(other) in message
    assert "PCM_SECRET_KEY" in message
    assert other.decode() not in message


async def test_a_new_key_file_is_not_kept_over_existing_secrets(
    platform: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    await _store_secret(platform)
    await _verify(platform)
    # A second process with no PCM_SECRET_KEY and an empty data directory of its own (an
    # emptyDir volume) would make a key file of its own.
    own_dir = tmp_path_factory.mktemp("second-pod")
    second = platform.settings.model_copy(update={"data_dir": own_dir})
    if second.is_sqlite:
        pytest.skip("on SQLite the database lives in the data directory")
    with pytest.raises(KeyMismatchError, match="has been removed again"):
        await anyio.to_thread.run_sync(verify_key, second, platform.app.state.registry)
    assert not (own_dir / secrets.KEY_FILE_NAME).exists()


async def test_secrets_stored_before_the_check_value_existed_are_checked(
    platform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _store_secret(platform)  # no process has recorded a check value yet
    monkeypatch.setenv(secrets.KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(KeyMismatchError):
        await _verify(platform)
    assert await _check_row(platform) is None
    monkeypatch.delenv(secrets.KEY_ENV)
    assert await _verify(platform) == "recorded"


async def test_rotation_moves_the_check_value_to_the_new_key(
    platform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.migrations import load_metadata
    from pcm_ops.security.secrets import rotate_key

    old = secrets.current_box().keys[0]
    await _store_secret(platform)
    await _verify(platform)
    new = Fernet.generate_key()
    monkeypatch.setenv(secrets.KEY_ENV, f"{new.decode()},{old.decode()}")
    engine = create_sync_engine(platform.settings)
    try:
        metadata = load_metadata(platform.app.state.registry)
        count, _ = await anyio.to_thread.run_sync(
            rotate_key, platform.settings.data_dir, engine, metadata
        )
    finally:
        engine.dispose()
    assert count == 1
    assert (await _check_row(platform)).key_fingerprint == key_fingerprint(new)
    monkeypatch.setenv(secrets.KEY_ENV, new.decode())  # the old key retired
    assert await _verify(platform) == "matched"
    monkeypatch.setenv(secrets.KEY_ENV, old.decode())
    with pytest.raises(KeyMismatchError):
        await _verify(platform)


def test_serve_refuses_another_key_with_one_clear_line(
    pcm_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from pcm_ops.discovery import discover
    from pcm_ops.settings import load_settings

    first, other = Fernet.generate_key(), Fernet.generate_key()
    run = pcm_cli()  # a migrated database, no plugins
    monkeypatch.setenv(secrets.KEY_ENV, first.decode())
    settings = load_settings()
    assert verify_key(settings, discover(settings)) == "recorded"  # a first process's key
    assert os.environ[secrets.KEY_ENV] == first.decode()
    monkeypatch.setenv(secrets.KEY_ENV, other.decode())

    # (An address of no interface here: should the check let it through, nothing listens.)
    refused = run("serve", "--host", "203.0.113.1", "--port", "8599")

    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: refusing to start: the secret key(s)")
    assert "Traceback" not in refused.stderr
    assert other.decode() not in refused.stderr
