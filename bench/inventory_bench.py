"""Benchmarks of the script runner's fleet inventory: browsing from the database, and a sync.

    python bench/inventory_bench.py [--runs 3] [--instances 10000] [--queries 200]
                                    [--sync-instances 2000] [--account-regions 20]
                                    [--latency 0.05]

What is measured, on SQLite and, when ``PCM_BENCH_POSTGRES_URL`` (or
``PCM_TEST_POSTGRES_URL``) names a PostgreSQL server, on PostgreSQL too:

* **browse latency**: ``--instances`` instances (20 account-regions, tags ``Name``, ``env``,
  ``team``, a mix of states, platforms and ping statuses) written the way a sync writes
  them; then ``--queries`` times a filtered, sorted page of 50 (running Linux instances
  tagged ``env=prod`` that SSM sees online, by name, at a varying offset) with the total
  count: (a) the service call (``query_instances``, one session each), (b) the API,
  ``GET /api/tools/aws/script-runner/inventory/instances`` in-process (ASGI, token auth,
  JSON; five unmeasured requests first). p50 and p99. Baseline: ``SELECT 1`` on a new
  session of the same database.
* **sync**: ``--sync-instances`` EC2 instances in ``--account-regions`` account-regions
  (accounts of two regions each, reached by AssumeRole from one shared key) on the extended
  moto server (in this process) with ``--latency`` seconds injected into every AWS call;
  a sync of everything through the job engine of a new application (*first*: AWS clients
  and assumed roles to make), then another in the same application (*next*: as every
  later scheduled sync of a running server). AWS calls by service, and wall time from
  the ``POST /inventory/sync`` to the job's end.

Every measurement runs ``--runs`` times, each on a fresh database; the medians are
reported. Everything listens on 127.0.0.1 only and ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

PLUGINS = ["aws-common", "aws-script-runner"]
API = "/api/tools/aws/script-runner"
FILTER = {"state": "running", "platform": "Linux", "tag": "env=prod", "ping_status": "Online"}


def _postgres_url() -> str | None:
    return os.environ.get("PCM_BENCH_POSTGRES_URL") or os.environ.get("PCM_TEST_POSTGRES_URL")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# -------------------------------------------------------------------------------------------
# Databases and the application
# -------------------------------------------------------------------------------------------


@asynccontextmanager
async def database(backend: str, **settings_overrides: Any) -> AsyncIterator[Any]:
    """Settings of a fresh, migrated and seeded database (and data directory)."""
    from pcm_ops.db.engine import Database
    from pcm_ops.db.migrations import upgrade
    from pcm_ops.db.seeds import run_seeds
    from pcm_ops.discovery import discover
    from pcm_ops.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="pcm-inventory-bench-") as data_dir:
        url = None
        admin = None
        name = f"pcm_inventory_bench_{uuid.uuid4().hex[:8]}"
        if backend == "postgresql":
            import psycopg
            from sqlalchemy.engine import make_url

            server = make_url(_postgres_url() or "").set(drivername="postgresql")
            admin = server.set(database="postgres").render_as_string(hide_password=False)
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            url = server.set(database=name).render_as_string(hide_password=False)
        try:
            settings = load_settings(
                data_dir=data_dir, database_url=url, plugins=PLUGINS, **settings_overrides
            )
            registry = discover(settings)
            # A thread of our own: DBOS replaces (and at its end shuts down) the default
            # executor of the loop it ran jobs from.
            with ThreadPoolExecutor(1) as executor:
                await asyncio.get_running_loop().run_in_executor(
                    executor, upgrade, settings, registry
                )
            db = Database(settings)
            try:
                await run_seeds(settings, registry, db)
            finally:
                await db.dispose()
            yield settings, registry
        finally:
            if admin is not None:
                import psycopg

                with psycopg.connect(admin, autocommit=True) as connection:
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def running_app(settings: Any, registry: Any) -> AsyncIterator[Any]:
    """The application in this process (its job engine too) and an admin's client."""
    from pcm_ops.app import create_app
    from pcm_ops.testing import app_client, issue_api_token

    app = create_app(settings, registry)
    try:
        async with app_client(app) as client:
            token = await issue_api_token(app, role="admin")
            client.headers["Authorization"] = f"Bearer {token}"
            yield client
    finally:
        # DBOS made this loop's default executor its own and shut it down when it stopped;
        # aiohttp (name resolution) and asyncio.to_thread need one for the next run.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())


# -------------------------------------------------------------------------------------------
# Browse latency
# -------------------------------------------------------------------------------------------


async def seed_inventory(settings: Any, count: int, account_regions: int = 20) -> None:
    """``count`` instances written as a sync writes them."""
    from pcm_aws_script_runner.services.inventory.sync_writes import (
        InstanceRecord,
        refresh_statistics,
        save_account_region,
    )
    from pcm_ops.db.engine import Database

    rng = random.Random(42)
    regions = ["us-east-1", "eu-west-1"]
    db = Database(settings)
    try:
        per = count // account_regions
        for index in range(account_regions):
            account = f"{100000000000 + index // 2}"
            region = regions[index % 2]
            records = []
            for number in range(per):
                name = (
                    f"{rng.choice(['web', 'db', 'cache', 'batch', 'api'])}-{index:02d}-{number:04d}"
                )
                records.append(
                    InstanceRecord(
                        instance_id=f"i-{index:03d}{number:014x}",
                        name=name,
                        state=rng.choices(["running", "stopped", "pending"], [8, 3, 1])[0],
                        platform=rng.choices(["Linux", "Windows", "MacOS"], [7, 3, 1])[0],
                        ping_status=rng.choices(
                            ["Online", "ConnectionLost", "Inactive", "NotManaged"], [8, 1, 1, 2]
                        )[0],
                        ssm_managed=True,
                        instance_type="t3.micro",
                        private_ip=f"10.{index}.{number // 256}.{number % 256}",
                        tags={
                            "Name": name,
                            "env": rng.choice(["prod", "staging", "dev"]),
                            "team": f"team-{rng.randrange(10)}",
                        },
                    )
                )
            async with db.session() as session:
                await save_account_region(session, account, region, records)
        async with db.session() as session:
            await refresh_statistics(session)  # as a sync does at its end
    finally:
        await db.dispose()


async def browse(settings: Any, registry: Any, queries: int) -> dict[str, Any]:
    from sqlalchemy import text

    from pcm_aws_script_runner.services import inventory
    from pcm_ops.db.engine import Database

    flt = inventory.filter_from_query({key: [value] for key, value in FILTER.items()})
    db = Database(settings)
    service, baseline, totals = [], [], set()
    async with db.session() as session:
        matching = await inventory.count_instances(session, flt)
    pages = max(1, min(10, matching // 50))  # offsets 0, 50, ... within the matches
    try:
        for number in range(queries):
            started = time.perf_counter()
            async with db.session() as session:
                rows, total = await inventory.query_instances(
                    session, flt, sort="name", limit=50, offset=(number % pages) * 50
                )
            service.append(time.perf_counter() - started)
            totals.add(total)
            assert rows
            started = time.perf_counter()
            async with db.session() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            baseline.append(time.perf_counter() - started)
    finally:
        await db.dispose()
    api = []
    async with running_app(settings, registry) as client:
        for number in range(-5, queries):  # five unmeasured requests warm the app up
            started = time.perf_counter()
            response = await client.get(
                f"{API}/inventory/instances",
                params={**FILTER, "sort": "name", "limit": 50, "offset": (number % pages) * 50},
            )
            if number >= 0:
                api.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            assert response.json()["items"]
    return {"service": service, "api": api, "baseline": baseline, "matching": totals.pop()}


# -------------------------------------------------------------------------------------------
# Sync against moto
# -------------------------------------------------------------------------------------------


def prepare_moto(moto: Any, instances: int, account_regions: int) -> list[Any]:
    """Accounts of two regions each, ``instances`` spread over ``account_regions``."""
    regions = ("us-east-1", "us-west-2")
    accounts = []
    per = instances // account_regions
    for index in range(account_regions // 2):
        account = moto.add_account(f"{880000000000 + index}", region=regions[0])
        for region in regions:
            moto.add_instances(account.account_id, region, per, tags={"env": "bench"})
        accounts.append(account)
    return accounts


async def register(client: Any, moto: Any, accounts: list[Any]) -> None:
    key = accounts[0]
    source = await client.post(
        "/api/tools/aws/common/credentials",
        json={
            "name": "bench",
            "partition": "aws",
            "access_key_id": key.access_key_id,
            "secret_access_key": key.secret_access_key,
            "shared": True,
        },
    )
    assert source.status_code == 201, source.text
    for account in accounts:
        response = await client.post(
            "/api/tools/aws/common/accounts",
            json={
                "account_id": account.account_id,
                "name": f"bench {account.account_id}",
                "partition": "aws",
                "regions": ["us-east-1", "us-west-2"],
                "credential_source_id": source.json()["id"],
                "role_arn": account.role_arn,
            },
        )
        assert response.status_code == 201, response.text


async def _timed_sync(client: Any, moto: Any, latency: float, expected: int) -> dict[str, Any]:
    moto.reset_controls()  # request counts from zero
    moto.set_latency(latency)
    started = time.perf_counter()
    response = await client.post(f"{API}/inventory/sync")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    while True:
        job = (await client.get(f"/api/jobs/{job_id}")).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            break
        await asyncio.sleep(0.02)
    wall = time.perf_counter() - started
    calls = {service: moto.requests(service) for service in ("sts", "ec2", "ssm")}
    moto.reset_controls()
    assert job["state"] == "succeeded", job
    assert job["result"]["instances"] == expected, job["result"]
    run = (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
    ).total_seconds()
    return {"wall": wall, "run": run, "calls": calls}


async def sync_twice(
    backend: str, moto: Any, accounts: list[Any], latency: float, expected: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A first sync in a new application (AWS clients and credentials to make), then a
    second one in the same application (clients pooled, assumed roles cached), as every
    scheduled sync of a long-running server or worker after its first."""
    async with (
        database(backend, jobs_queue_poll_seconds=0.1) as (settings, registry),
        running_app(settings, registry) as client,
    ):
        await register(client, moto, accounts)
        cold = await _timed_sync(client, moto, latency, expected)
        warm = await _timed_sync(client, moto, latency, expected)
    return cold, warm


# -------------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    from pcm_ops.__about__ import __version__

    backends = ["sqlite"] + (["postgresql"] if _postgres_url() else [])
    print(
        f"PCM-Ops {__version__}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {args.runs} runs, {args.instances} instances, "
        f"{args.queries} queries; sync: {args.sync_instances} instances in "
        f"{args.account_regions} account-regions, {args.latency * 1000:.0f} ms per AWS call"
    )
    if not _postgres_url():
        print("PostgreSQL skipped: set PCM_BENCH_POSTGRES_URL=postgresql://user@host/db")

    browse_rows = []
    for backend in backends:
        runs = []
        for _ in range(args.runs):
            async with database(backend) as (settings, registry):
                await seed_inventory(settings, args.instances)
                runs.append(await browse(settings, registry, args.queries))

        def median(key: str, fraction: float, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(_percentile(run[key], fraction) for run in runs)

        browse_rows.append(
            {
                "backend": backend,
                "matching": runs[0]["matching"],
                **{
                    f"{key}_p{p}": median(key, p / 100)
                    for key in ("service", "api", "baseline")
                    for p in (50, 99)
                },
            }
        )

    from pcm_aws_common.testing.server import MotoAws

    sync_rows = []
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    with MotoAws() as moto:
        os.environ["PCM_AWS_COMMON__ENDPOINT_URL"] = moto.endpoint_url
        accounts = prepare_moto(moto, args.sync_instances, args.account_regions)
        for backend in backends:
            pairs = [
                await sync_twice(backend, moto, accounts, args.latency, args.sync_instances)
                for _ in range(args.runs)
            ]
            for kind, runs in (("first", [p[0] for p in pairs]), ("next", [p[1] for p in pairs])):
                sync_rows.append(
                    {
                        "backend": backend,
                        "kind": kind,
                        "wall": statistics.median(run["wall"] for run in runs),
                        "run": statistics.median(run["run"] for run in runs),
                        "calls": runs[0]["calls"],
                        "spread": (min(r["wall"] for r in runs), max(r["wall"] for r in runs)),
                    }
                )

    print()
    print(
        f"| backend | matching of {args.instances:,} | page of 50, service p50 | p99 | "
        "API p50 | p99 | "
        "baseline SELECT 1 p50 | p99 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in browse_rows:
        print(
            f"| {row['backend']} | {row['matching']} | {_ms(row['service_p50'])} | "
            f"{_ms(row['service_p99'])} | {_ms(row['api_p50'])} | {_ms(row['api_p99'])} | "
            f"{_ms(row['baseline_p50'])} | {_ms(row['baseline_p99'])} |"
        )
    print()
    print(
        "| backend | sync | AWS calls (sts / ec2 / ssm) | wall time, enqueue to end (median) | "
        "min-max |"
    )
    print("| --- | --- | --- | --- | --- |")
    for row in sync_rows:
        calls = row["calls"]
        print(
            f"| {row['backend']} | {row['kind']} | {sum(calls.values())} "
            f"({calls['sts']} / {calls['ec2']} / {calls['ssm']}) | {row['wall']:.2f} s | "
            f"{row['spread'][0]:.2f}-{row['spread'][1]:.2f} s |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sync-instances", type=int, default=2_000)
    parser.add_argument("--account-regions", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    # bench/run.py passes every benchmark the same arguments: ignore the others'.
    args, _ = parser.parse_known_args()
    for name in [n for n in os.environ if n.startswith("PCM_")]:
        if not name.startswith(("PCM_BENCH_", "PCM_TEST_")):
            del os.environ[name]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
