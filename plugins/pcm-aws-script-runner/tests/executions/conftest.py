"""Executions against the extended moto server over HTTP, with the job engine running in the
application: an account registered in pcm-aws-common for each test (its own account id, so
that tests never see each other's instances or commands), instances in three regions, and
the inventory rows the sync job would write for them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

API = "/api/tools/aws/script-runner"
COMMON = "/api/tools/aws/common"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")

#: Settings that make executions and the job engine quick in tests.
FAST = {
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.05",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.2",
}
FAST_JOBS = {
    "jobs_queue_poll_seconds": 0.05,
    "jobs_heartbeat_seconds": 0.5,
    "jobs_event_poll_seconds": 0.1,
}


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from pcm_ops.security import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner"]


@pytest.fixture
def pcm_settings(
    make_pcm_settings: Callable[..., Any], moto_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    return make_pcm_settings(**FAST_JOBS)


def new_account_id() -> str:
    return "5" + "".join(random.choice("0123456789") for _ in range(11))


@dataclass
class Fleet:
    """A registered account with instances per region, and an API client."""

    client: httpx.AsyncClient
    app: Any
    moto: Any
    account_id: str
    instances: dict[str, list[str]]
    headers: dict[str, dict[str, str]]
    make_headers: Callable[..., Awaitable[dict[str, str]]]
    scripts: dict[str, int] = field(default_factory=dict)

    async def auth(self, role: str) -> dict[str, str]:
        if role not in self.headers:
            self.headers[role] = await self.make_headers(role)
        return self.headers[role]

    async def post(self, path: str, role: str = "operator", **kwargs: Any) -> httpx.Response:
        headers = {**await self.auth(role), **kwargs.pop("headers", {})}
        return await self.client.post(API + path, headers=headers, **kwargs)

    async def get(self, path: str, role: str = "viewer", **kwargs: Any) -> httpx.Response:
        headers = {**await self.auth(role), **kwargs.pop("headers", {})}
        return await self.client.get(API + path, headers=headers, **kwargs)

    def all_ids(self) -> list[str]:
        return [i for region in REGIONS for i in self.instances.get(region, [])]

    async def script(self, name: str = "hello", **overrides: Any) -> int:
        body = {
            "name": name,
            "language": "shell",
            "body": 'echo "hello from $(hostname) to $who"\n',
            "parameters": [
                {"name": "who", "type": "string", "default": "world"},
                {"name": "token", "type": "string", "secret": True},
            ],
            **overrides,
        }
        response = await self.client.post(
            f"{API}/scripts", json=body, headers=await self.auth("admin")
        )
        assert response.status_code == 201, response.text
        script_id = int(response.json()["id"])
        self.scripts[name] = script_id
        return script_id

    async def start(self, **fields: Any) -> dict[str, Any]:
        body = {"script_id": self.scripts.get("hello") or await self.script(), **fields}
        body.setdefault("targets", {"instance_ids": self.all_ids()})
        response = await self.post("/executions", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json()["execution"])

    async def wait(
        self,
        execution_id: int,
        statuses: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
        limit: float = 60.0,
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            response = await self.get(f"/executions/{execution_id}")
            assert response.status_code == 200, response.text
            body = dict(response.json())
            if body["status"] in statuses:
                return body
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"execution {execution_id} is still {body['status']}: {body}")
            await asyncio.sleep(0.05)

    async def targets(self, execution_id: int) -> list[dict[str, Any]]:
        response = await self.get(f"/executions/{execution_id}/targets", params={"limit": 1000})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


async def register_fleet(
    client: httpx.AsyncClient,
    app: Any,
    moto: Any,
    make_headers: Callable[..., Awaitable[dict[str, str]]],
    per_region: dict[str, int],
) -> Fleet:
    """Create an account in moto with instances, register it, and write its inventory."""
    from pcm_aws_script_runner.fleet_models import AwsSrInstance

    account_id = new_account_id()
    account = moto.add_account(account_id, partition="aws")
    instances = {
        region: moto.add_instances(account_id, region, count, tags={"Team": "web"})
        for region, count in per_region.items()
        if count
    }
    admin = await make_headers("admin")
    management = moto.account("management")
    source = await client.post(
        f"{COMMON}/credentials",
        headers=admin,
        json={
            "name": f"keys-{account_id}",
            "partition": "aws",
            "access_key_id": management.access_key_id,
            "secret_access_key": management.secret_access_key,
            "shared": True,
        },
    )
    assert source.status_code == 201, source.text
    registered = await client.post(
        f"{COMMON}/accounts",
        headers=admin,
        json={
            "account_id": account_id,
            "name": f"test-{account_id}",
            "partition": "aws",
            "regions": list(REGIONS),
            "credential_source_id": source.json()["id"],
            "role_arn": account.role_arn,
        },
    )
    assert registered.status_code == 201, registered.text
    async with app.state.database.session() as session:
        for region, ids in instances.items():
            for n, instance_id in enumerate(ids):
                session.add(
                    AwsSrInstance(
                        account_id=account_id,
                        region=region,
                        instance_id=instance_id,
                        name=f"web-{region}-{n:03d}",
                        state="running",
                        platform="Linux",
                        ssm_managed=True,
                        ping_status="Online",
                        tags={"Team": "web"},
                    )
                )
    return Fleet(client, app, moto, account_id, instances, {"admin": admin}, make_headers)


@pytest.fixture
async def seeded(pcm_settings: Any, pcm_registry: Any, pcm_migrated_database: Any) -> Any:
    from pcm_ops.db.seeds import run_seeds

    await run_seeds(pcm_settings, pcm_registry, pcm_migrated_database)
    return pcm_migrated_database


@pytest.fixture
def make_fleet(
    seeded: Any,
    pcm_client: httpx.AsyncClient,
    pcm_app: Any,
    moto_aws: Any,
    pcm_auth_headers: Callable[..., Awaitable[dict[str, str]]],
) -> Callable[..., Awaitable[Fleet]]:
    async def make(**per_region: int) -> Fleet:
        counts = {region: per_region.get(region.replace("-", "_"), 0) for region in REGIONS}
        return await register_fleet(pcm_client, pcm_app, moto_aws, pcm_auth_headers, counts)

    return make
