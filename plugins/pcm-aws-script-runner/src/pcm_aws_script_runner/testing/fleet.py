"""A fleet in the fake AWS, registered and inventoried, and what tests do with it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pcm_aws_script_runner.domain import FINISHED

if TYPE_CHECKING:
    import httpx

    from pcm_aws_script_runner.hooktypes import ExecutionRequest, ResolvedTarget
    from pcm_ops.db.engine import Database

__all__ = [
    "FLEET_REGIONS",
    "Fleet",
    "add_inventory_instances",
    "execution_request",
    "register_fleet",
]

API = "/api/tools/aws/script-runner"
COMMON = "/api/tools/aws/common"
#: The regions a fleet may have instances in (keyword ``us_east_1=3`` and so on).
FLEET_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def new_account_id() -> str:
    """A random 12-digit account id (starting with 5), so that tests sharing one fake AWS
    never see each other's instances or commands."""
    return "5" + "".join(random.choice("0123456789") for _ in range(11))  # noqa: S311


@dataclass
class Fleet:
    """A registered account with instances per region, and an API client.

    ``instances`` maps each region to its instance ids; ``headers`` caches an API token
    per role (``admin``, ``operator``, ``viewer``).
    """

    client: httpx.AsyncClient
    app: Any
    moto: Any
    account_id: str
    instances: dict[str, list[str]]
    headers: dict[str, dict[str, str]]
    make_headers: Callable[..., Awaitable[dict[str, str]]]
    scripts: dict[str, int] = field(default_factory=dict)

    async def auth(self, role: str) -> dict[str, str]:
        """The headers of an API token of a user with ``role``."""
        if role not in self.headers:
            self.headers[role] = await self.make_headers(role)
        return self.headers[role]

    async def post(self, path: str, role: str = "operator", **kwargs: Any) -> httpx.Response:
        """POST to the script runner's API (``path`` after its prefix) as ``role``."""
        headers = {**await self.auth(role), **kwargs.pop("headers", {})}
        return await self.client.post(API + path, headers=headers, **kwargs)

    async def get(self, path: str, role: str = "viewer", **kwargs: Any) -> httpx.Response:
        """GET from the script runner's API as ``role``."""
        headers = {**await self.auth(role), **kwargs.pop("headers", {})}
        return await self.client.get(API + path, headers=headers, **kwargs)

    def all_ids(self) -> list[str]:
        """Every instance id of the fleet, region by region."""
        return [i for region in FLEET_REGIONS for i in self.instances.get(region, [])]

    async def script(self, name: str = "hello", **overrides: Any) -> int:
        """Add a script (as an admin; by default one echoing ``$who`` with a secret
        parameter ``token``); its id."""
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
        """Start an execution (``POST /executions`` as an operator; on every instance of
        the fleet with the ``hello`` script unless ``fields`` say otherwise); its summary."""
        body = {"script_id": self.scripts.get("hello") or await self.script(), **fields}
        body.setdefault("targets", {"instance_ids": self.all_ids()})
        response = await self.post("/executions", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json()["execution"])

    async def wait(
        self, execution_id: int, statuses: Collection[str] = FINISHED, limit: float = 60.0
    ) -> dict[str, Any]:
        """Wait until the execution's status is one of ``statuses``; its detail, with its
        batches (from their paged route) under ``"batches"``.

        :raises AssertionError: still not there after ``limit`` seconds.
        """
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            response = await self.get(f"/executions/{execution_id}")
            assert response.status_code == 200, response.text
            body = dict(response.json())
            if body["status"] in statuses:
                return {**body, "batches": await self.batches(execution_id)}
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"execution {execution_id} is still {body['status']}: {body}")
            await asyncio.sleep(0.05)

    async def targets(self, execution_id: int) -> list[dict[str, Any]]:
        """The execution's per-instance results, every page."""
        return await self._every_page(f"/executions/{execution_id}/targets")

    async def batches(self, execution_id: int) -> list[dict[str, Any]]:
        """The execution's ``SendCommand`` batches, every page."""
        return await self._every_page(f"/executions/{execution_id}/batches")

    async def _every_page(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        while True:
            response = await self.get(path, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            items.extend(page["items"])
            if page["next_after"] is None:
                return items
            params["after"] = page["next_after"]


async def add_inventory_instances(
    database: Database,
    account_id: str,
    region: str,
    instance_ids: Iterable[str],
    *,
    name_prefix: str = "web",
    tags: dict[str, str] | None = None,
    **fields: Any,
) -> None:
    """Write inventory rows for instances, as an inventory sync would (running, Linux,
    managed by SSM and online, named ``<name_prefix>-<region>-<n>``, unless ``fields`` say
    otherwise)."""
    from pcm_aws_script_runner.models import AwsSrInstance

    async with database.session() as session:
        for n, instance_id in enumerate(instance_ids):
            values = {
                "name": f"{name_prefix}-{region}-{n:03d}",
                "state": "running",
                "platform": "Linux",
                "ssm_managed": True,
                "ping_status": "Online",
                **fields,
            }
            session.add(
                AwsSrInstance(
                    account_id=account_id,
                    region=region,
                    instance_id=instance_id,
                    tags=dict(tags or {}),
                    **values,
                )
            )


async def register_fleet(
    client: httpx.AsyncClient,
    app: Any,
    moto: Any,
    make_headers: Callable[..., Awaitable[dict[str, str]]],
    per_region: dict[str, int],
    *,
    tags: dict[str, str] | None = None,
) -> Fleet:
    """Create an account in the fake AWS with instances per region, register it in
    aws-common (a shared credential source of the fake's management account, and the new
    account's role), and write its inventory."""
    tags = {"Team": "web"} if tags is None else tags
    account_id = new_account_id()
    account = moto.add_account(account_id, partition="aws")
    instances = {
        region: moto.add_instances(account_id, region, count, tags=tags)
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
            "regions": list(FLEET_REGIONS),
            "credential_source_id": source.json()["id"],
            "role_arn": account.role_arn,
        },
    )
    assert registered.status_code == 201, registered.text
    for region, ids in instances.items():
        await add_inventory_instances(
            app.state.database, account_id, region, ids, tags=tags, name_prefix="web"
        )
    return Fleet(client, app, moto, account_id, instances, {"admin": admin}, make_headers)


def execution_request(targets: Iterable[ResolvedTarget] = (), **fields: Any) -> ExecutionRequest:
    """A valid :class:`~pcm_aws_script_runner.hooktypes.ExecutionRequest` for a check to
    judge: a shell script ``hello`` version 1 on ``targets``, asked for by ``alice``;
    ``fields`` override any attribute."""
    from pcm_aws_script_runner.hooktypes import ExecutionRequest

    values: dict[str, Any] = {
        "script_id": 1,
        "script_name": "hello",
        "script_version": 1,
        "script_sha256": "0" * 64,
        "language": "shell",
        "parameters": {},
        "targets": tuple(targets),
        "requested_by": "alice",
        **fields,
    }
    return ExecutionRequest(**values)
