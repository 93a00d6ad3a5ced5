"""An application with migrations applied, three users (one per role) and a token each."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest

from pcm_ops.app import create_app
from pcm_ops.discovery import ENTRY_POINT_GROUP, discover
from pcm_ops.settings import load_settings

PASSWORDS = {
    "alice": "correct horse battery",
    "oscar": "operator password 1",
    "vera": "viewer password 12",
}
ROLES = {"alice": "admin", "oscar": "operator", "vera": "viewer"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str | None]:
    """``None`` (SQLite in the data directory) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    base = os.environ.get("PCM_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PCM_TEST_POSTGRES_URL is not set")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base).set(drivername="postgresql")
    name = f"pcm_sec_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Platform:
    app: Any
    settings: Any
    client: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)
    extra_clients: list[httpx.AsyncClient] = field(default_factory=list)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def session_login(self, username: str) -> tuple[httpx.AsyncClient, str]:
        """A separate client logged in through the browser flow; returns it and its CSRF."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver"
        )
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": PASSWORDS[username]}
        )
        assert response.status_code == 200, response.text
        self.extra_clients.append(client)
        return client, response.json()["csrf_token"]


VAULT = EntryPoint("vault", "pcm_test_vault", ENTRY_POINT_GROUP)


@pytest.fixture
async def platform(
    tmp_path: Any, database_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Platform]:
    from sqlmodel import SQLModel

    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.migrations import upgrade
    from pcm_ops.security.permissions import collect_permissions
    from pcm_ops.security.tokens import create_token
    from pcm_ops.security.users import create_user

    settings = load_settings(data_dir=tmp_path, database_url=database_url)
    # The test plugin stays imported across tests: its table is defined once per process.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    registry = discover(settings, entry_points_=[VAULT])
    await anyio.to_thread.run_sync(upgrade, settings, registry)
    app = create_app(settings, registry)
    # The fixture plugin has no migrations of its own; tests may create tables directly.
    engine = create_sync_engine(settings)
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["vault_secret"]])
    engine.dispose()
    permissions = collect_permissions(registry)
    tokens = {}
    async with app.state.database.session() as session:
        for username, role in ROLES.items():
            user = await create_user(session, username, PASSWORDS[username], role)
            held = permissions.for_role(role)
            issued = await create_token(session, user, "all", sorted(held), held, 30)
            tokens[username] = issued.raw
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    platform = Platform(app=app, settings=settings, client=client, tokens=tokens)
    try:
        yield platform
    finally:
        for opened in (client, *platform.extra_clients):
            await opened.aclose()
        await app.state.database.dispose()
