"""The inventory sync's tests add accounts of their own to aws-common's registry and to the
session's extended moto server (moto's data is shared by the session: each test makes fresh
account ids): ``fleet``."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

API = "/api/tools/aws/script-runner"
COMMON = "/api/tools/aws/common"

_numbers = itertools.count(1)


def fresh_account_id() -> str:
    """An account id no other test of this session (or xdist worker) uses."""
    return f"7{os.getpid() % 100000:05d}{next(_numbers):06d}"


@dataclass
class Fleet:
    """The running application (its job engine too), the moto server, users by role, and
    ways to add AWS accounts to both and to sync."""

    client: httpx.AsyncClient
    app: Any
    database: Any
    moto: Any
    make_headers: Callable[..., Awaitable[dict[str, str]]]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    async def auth(self, role: str) -> dict[str, str]:
        if role not in self.headers:
            self.headers[role] = await self.make_headers(role)
        return self.headers[role]

    async def request(
        self, method: str, path: str, role: str = "admin", **kwargs: Any
    ) -> httpx.Response:
        base = "" if path.startswith("/tools/") or path.startswith("/api/jobs") else API
        return await self.client.request(
            method, base + path, headers=await self.auth(role), **kwargs
        )

    async def add_account(
        self,
        *,
        regions: tuple[str, ...] = ("us-east-1",),
        partition: str = "aws",
        role: str | None = None,
        name: str | None = None,
    ) -> str:
        """A new moto account (its own key) registered in aws-common; ``role``: reach it
        through AssumeRole into this role name (a missing role makes every call fail)."""
        account_id = fresh_account_id()
        prepared = await asyncio.to_thread(
            self.moto.add_account, account_id, partition=partition, region=regions[0]
        )
        source = await self.client.post(
            f"{COMMON}/credentials",
            headers=await self.auth("admin"),
            json={
                "name": f"keys-{account_id}",
                "partition": partition,
                "access_key_id": prepared.access_key_id,
                "secret_access_key": prepared.secret_access_key,
                "shared": True,
            },
        )
        assert source.status_code == 201, source.text
        arn_partition = "aws-us-gov" if partition == "aws-us-gov" else "aws"
        account = await self.client.post(
            f"{COMMON}/accounts",
            headers=await self.auth("admin"),
            json={
                "account_id": account_id,
                "name": name or f"Account {account_id}",
                "partition": partition,
                "regions": list(regions),
                "credential_source_id": source.json()["id"],
                "role_arn": f"arn:{arn_partition}:iam::{account_id}:role/{role}" if role else None,
            },
        )
        assert account.status_code == 201, account.text
        return account_id

    async def add_instances(
        self, account_id: str, region: str, count: int = 1, **options: Any
    ) -> list[str]:
        return await asyncio.to_thread(
            self.moto.add_instances, account_id, region, count, **options
        )

    async def sync(self, account_regions: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Start a sync through the API and wait for its job to finish; the job."""
        body = (
            None
            if account_regions is None
            else {"account_regions": [{"account_id": a, "region": r} for a, r in account_regions]}
        )
        started = await self.request("POST", "/inventory/sync", json=body)
        assert started.status_code == 202, started.text
        return await self.wait_for_job(started.json()["job_id"])

    async def wait_for_job(self, job_id: str, within: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            job = await self.request("GET", f"/api/jobs/{job_id}")
            assert job.status_code == 200, job.text
            if job.json()["state"] in ("succeeded", "failed", "cancelled"):
                return dict(job.json())
            assert time.monotonic() < deadline, f"job {job_id} still {job.json()['state']}"
            await asyncio.sleep(0.1)

    async def instances(self, role: str = "admin", **params: Any) -> dict[str, Any]:
        response = await self.request("GET", "/inventory/instances", role, params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
async def fleet(
    seeded: Any,
    pcm_auth_headers: Callable[..., Awaitable[dict[str, str]]],
    pcm_client: httpx.AsyncClient,
    pcm_app: Any,
    moto_aws: Any,
) -> Fleet:
    return Fleet(pcm_client, pcm_app, seeded, moto_aws, pcm_auth_headers)
