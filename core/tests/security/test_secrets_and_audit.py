"""Secrets at rest are encrypted and rotatable; the audit log records core's actions."""

from __future__ import annotations

import os
import stat
from typing import Any

import anyio.to_thread
import pytest

SECRET = "AKIA-very-secret-value-1234567890"


async def _store_secret(platform: Any, name: str = "db", value: str = SECRET) -> None:
    response = await platform.client.put(
        "/api/tools/test/vault/secrets",
        json={"name": name, "value": value},
        headers=platform.auth("oscar"),
    )
    assert response.status_code == 200, response.text
    assert value not in response.text


async def _stored_ciphertext(platform: Any) -> str:
    from sqlalchemy import text

    async with platform.app.state.database.engine.connect() as connection:
        return (await connection.execute(text("SELECT value FROM vault_secret"))).scalar_one()


async def test_secret_is_not_in_plain_text_in_the_database_file(platform: Any) -> None:
    if not platform.settings.is_sqlite:
        pytest.skip("reads the SQLite file's bytes")
    await _store_secret(platform)
    await platform.app.state.database.dispose()  # flush WAL pages to the file
    raw = b""
    for path in platform.settings.data_dir.glob("pcm-ops.db*"):
        if path.is_file():  # not the event wake-up registry folder beside it
            raw += path.read_bytes()
    assert b"vault_secret" in raw  # we are reading the right file
    assert SECRET.encode() not in raw


async def test_secret_column_holds_ciphertext_on_every_backend(platform: Any) -> None:
    await _store_secret(platform)
    stored = await _stored_ciphertext(platform)
    assert stored.startswith("fernet:")
    assert SECRET not in stored


async def test_secret_reads_back_through_the_service(platform: Any) -> None:
    await _store_secret(platform)
    length = await platform.client.get(
        "/api/tools/test/vault/secrets/db/length", headers=platform.auth("vera")
    )
    assert length.json() == len(SECRET)


async def test_key_file_is_created_with_mode_0600(platform: Any) -> None:
    key_file = platform.settings.data_dir / "secret.key"
    assert key_file.exists()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


async def test_rotation_reencrypts_and_secrets_stay_readable(platform: Any) -> None:
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.migrations import load_metadata
    from pcm_ops.security.secrets import rotate_key

    await _store_secret(platform)
    before = await _stored_ciphertext(platform)
    key_before = (platform.settings.data_dir / "secret.key").read_text()
    engine = create_sync_engine(platform.settings)
    try:
        count, path = await anyio.to_thread.run_sync(
            lambda: rotate_key(
                platform.settings.data_dir, engine, load_metadata(platform.app.state.registry), True
            )
        )
    finally:
        engine.dispose()
    assert count == 1
    assert path is not None
    assert path.read_text() != key_before
    after = await _stored_ciphertext(platform)
    assert after != before
    assert after.startswith("fernet:")
    length = await platform.client.get(
        "/api/tools/test/vault/secrets/db/length", headers=platform.auth("vera")
    )
    assert length.json() == len(SECRET)


async def _audit(platform: Any, **filters: str) -> list[dict[str, Any]]:
    response = await platform.client.get(
        "/api/audit", params=filters, headers=platform.auth("alice")
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_audit_records_login_and_failed_login(platform: Any) -> None:
    await platform.client.post(
        "/api/auth/login", json={"username": "vera", "password": "nope nope nope"}
    )
    await platform.client.post(
        "/api/auth/login", json={"username": "vera", "password": "viewer password 12"}
    )
    events = await _audit(platform, action="core.login")
    outcomes = [(e["actor"], e["outcome"]) for e in events]
    assert ("vera", "success") in outcomes
    assert ("vera", "failure") in outcomes
    assert all(e["client_address"] for e in events)


async def test_audit_records_role_changes(platform: Any) -> None:
    response = await platform.client.patch(
        "/api/auth/users/vera", json={"role": "operator"}, headers=platform.auth("alice")
    )
    assert response.status_code == 200, response.text
    events = await _audit(platform, action="core.user.role_change")
    assert events[0]["object_id"] == "vera"
    assert events[0]["details"] == {"from": "viewer", "to": "operator"}
    assert events[0]["actor"] == "alice (token 'all')"


async def test_audit_records_token_creation_and_revocation(platform: Any) -> None:
    created = await platform.client.post(
        "/api/auth/tokens",
        json={"name": "audited", "scopes": ["vault:read"]},
        headers=platform.auth("oscar"),
    )
    token_id = created.json()["id"]
    await platform.client.delete(f"/api/auth/tokens/{token_id}", headers=platform.auth("oscar"))
    actions = {(e["action"], e["object_id"]) for e in await _audit(platform, action="core.token*")}
    assert ("core.token.create", str(token_id)) in actions
    assert ("core.token.revoke", str(token_id)) in actions
    assert created.json()["token"] not in str(await _audit(platform))


async def test_audit_log_is_admin_only_and_read_only(platform: Any) -> None:
    denied = await platform.client.get("/api/audit", headers=platform.auth("oscar"))
    assert denied.status_code == 403
    from pcm_ops.routes import effective_routes

    methods = {
        method
        for route in effective_routes(platform.app.routes)
        if route.path.startswith("/api/audit")
        for method in route.methods
    }
    assert methods == {"GET"}


async def test_audit_log_pages_newest_first(platform: Any) -> None:
    for index in range(3):
        await _store_secret(platform, name=f"s{index}")
    first = await platform.client.get(
        "/api/audit",
        params={"action": "vault.secret.store", "limit": 2},
        headers=platform.auth("alice"),
    )
    page = first.json()
    assert [e["object_id"] for e in page["events"]] == ["s2", "s1"]
    second = await platform.client.get(
        "/api/audit",
        params={"action": "vault.secret.store", "limit": 2, "before_id": page["next_before_id"]},
        headers=platform.auth("alice"),
    )
    assert [e["object_id"] for e in second.json()["events"]] == ["s0"]


async def test_last_admin_cannot_be_demoted(platform: Any) -> None:
    response = await platform.client.patch(
        "/api/auth/users/alice", json={"role": "viewer"}, headers=platform.auth("alice")
    )
    assert response.status_code == 409
    assert "last enabled admin" in response.json()["detail"]


async def test_bad_user_input_names_the_field(platform: Any) -> None:
    response = await platform.client.post(
        "/api/auth/users",
        json={"username": "newbie", "password": "short", "role": "viewer"},
        headers=platform.auth("alice"),
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "password"]
    assert "at least 12 characters" in problem["msg"]
