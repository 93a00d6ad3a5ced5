"""Every test here loads the aws-common plugin (and no other installed plugin), pointed at
the session's extended moto server (``pcm_aws_common.testing.fixtures``).

Tests whose subject is AWS, validation or UI logic rather than the database are marked
``SQLITE_ONLY`` in their modules: they run on SQLite alone, so that the suite keeps to its
time budget when PostgreSQL is on. Everything whose outcome depends on the database
(secrets at rest, visibility, references, migrations, audit, a worker's own engine) runs on
both backends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

API = "/api/tools/aws/common"


@pytest.fixture(autouse=True)
def _cheap_passwords(pcm_cheap_passwords: None) -> None:
    """Every test here hashes passwords with Argon2's cheapest parameters (core's fixture)."""


@pytest.fixture(scope="session")
def aio_session() -> Any:
    """One aiobotocore session for the tests' own clients (it parses service models once)."""
    import aiobotocore.session

    return aiobotocore.session.get_session()


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common"]


@pytest.fixture
def pcm_settings(moto_pcm_settings: Any) -> Any:
    return moto_pcm_settings


@pytest.fixture
async def seeded_database(pcm_settings: Any, pcm_registry: Any, pcm_migrated_database: Any) -> Any:
    """The migrated database with the partitions and regions seeded."""
    from pcm_ops.db.seeds import run_seeds

    outcomes = await run_seeds(pcm_settings, pcm_registry, pcm_migrated_database)
    assert [outcome.status.value for outcome in outcomes] == ["applied"], outcomes
    return pcm_migrated_database


#: The users tests act as, and their roles.
USERS = {"admin": "admin", "operator": "operator", "operator2": "operator", "viewer": "viewer"}


@dataclass
class Api:
    """The running application, and users (one per role, two operators) created when a test
    first acts as them (hashing a password takes a while)."""

    client: httpx.AsyncClient
    app: Any
    database: Any
    moto: Any
    make_headers: Callable[..., Awaitable[dict[str, str]]]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    async def auth(self, user: str) -> dict[str, str]:
        if user not in self.headers:
            self.headers[user] = await self.make_headers(USERS[user])
        return self.headers[user]

    async def request(self, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
        headers = await self.auth(user)
        return await self.client.request(method, API + path, headers=headers, **kwargs)

    async def get(self, path: str, user: str = "admin", **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, user, **kwargs)

    async def post(self, path: str, user: str = "admin", **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, user, **kwargs)

    async def patch(self, path: str, user: str = "admin", **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, user, **kwargs)

    async def delete(self, path: str, user: str = "admin", **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, user, **kwargs)

    async def page(self, path: str, user: str = "admin") -> httpx.Response:
        return await self.client.get(path, headers=await self.auth(user))

    async def add_keys(
        self,
        name: str,
        account: str = "management",
        *,
        user: str = "admin",
        shared: bool = True,
        partition: str | None = None,
    ) -> dict[str, Any]:
        """Save the keys of a prepared moto account as a credential source."""
        prepared = self.moto.account(account)
        response = await self.post(
            "/credentials",
            user,
            json={
                "name": name,
                "partition": partition or prepared.partition,
                "access_key_id": prepared.access_key_id,
                "secret_access_key": prepared.secret_access_key,
                "shared": shared,
            },
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def add_account(self, **fields: Any) -> httpx.Response:
        return await self.post("/accounts", json=fields)

    @property
    def aws(self) -> Any:
        """The application's client factory."""
        return self.app.state.aws_clients


@pytest.fixture
async def api(
    seeded_database: Any,
    pcm_auth_headers: Callable[..., Awaitable[dict[str, str]]],
    pcm_client: httpx.AsyncClient,
    pcm_app: Any,
    moto_aws: Any,
) -> Api:
    return Api(pcm_client, pcm_app, seeded_database, moto_aws, pcm_auth_headers)
