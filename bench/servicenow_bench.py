"""ServiceNow: resolving a change with many affected CIs over the fake ServiceNow.

    python bench/servicenow_bench.py [--cis 500] [--latency 0.1] [--runs 3] [--naive-runs 1]

The fake (``pcm_servicenow_cmdb.testing.FakeServiceNow``, a real HTTP server) answers every
request after ``--latency`` seconds. A change affects ``--cis`` EC2 instances, each *Hosted
on* one datacenter (its region), *Hosted on* one account. Measured:

- **PCM-Ops**: ``get_change`` + ``affected_cis`` (what the change page, the target source
  and the pre-execution check do) with the plugin's client: requests made and wall time;
- **minimum requests**: what paging allows at the client's page size (100 records, 100
  sys_ids per ``IN``): one request for the change, then per step the pages its records fill;
- **sequential**: that many requests as sequential round trips (requests x latency);
- **naive**: a client that reads ``task_ci`` and then fetches each CI by sys_id, one after
  the other (the instance, its relation, its datacenter and account are not even fetched).

And the **change list page** (``GET /tools/servicenow/cmdb/``) as a browser asks for it:
the application served by uvicorn on a free loopback port (SQLite, plugin
``servicenow-cmdb`` only, a fresh database per run), a connection to the fake holding
``--changes`` changes (answering after ``--page-latency`` seconds, default ``--latency``),
an operator logged in with a session cookie over real HTTP. ``--page-requests`` requests
*cold* (``?refresh=true``, the page's refresh: ServiceNow is asked every time) and as many
*warm* (the plugin's answer cache, ``cache_seconds`` = ``--cache-seconds``), alternating
cold and warm so that both see the same load, and as many of core's home page (signed in,
rendered, no ServiceNow: the floor of any page over the same stack); three unmeasured of each
first. p50 and p99 per run, the ratio warm / cold, and the ServiceNow requests one cold page
makes.

Figures go to stdout as Markdown tables (medians of ``--runs``); ``--json FILE`` writes them.
``--sections resolve,list-page`` chooses what runs (default: both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PAGE = 100


def seed(fake: Any, count: int) -> str:
    account = fake.add("cmdb_ci_cloud_service_account", name="prod", account_id="123456789012")
    region = fake.add("cmdb_ci_aws_datacenter", name="eu-west-1", region="eu-west-1")
    fake.relate(region, account)
    change = fake.add("change_request", short_description="Patch the fleet", state="-1")
    for n in range(count):
        vm = fake.add("cmdb_ci_vm_instance", name=f"web-{n:04d}", object_id=f"i-{n:017x}")
        fake.relate(vm, region)
        fake.add("task_ci", task=change, ci_item=vm)
    return str(fake.get(change)["number"])


def minimum_requests(count: int) -> int:
    pages = math.ceil(count / PAGE)
    # change; task_ci pages; cmdb_ci, vm instance and Hosted-on batches; datacenter; its
    # Hosted-on; account.
    return 1 + pages + pages + pages + pages + 1 + 1 + 1


async def ours(settings: Any, number: str) -> tuple[int, float, int]:
    from pcm_servicenow_cmdb.client import ServiceNowClient
    from pcm_servicenow_cmdb.services import changes

    async with ServiceNowClient(settings) as client:
        started = time.perf_counter()
        change = await changes.get_change(client, number)
        cis = await changes.affected_cis(client, change)
        wall = time.perf_counter() - started
        placed = sum(1 for ci in cis if ci.instance_id and ci.account_id and ci.region)
        return client.request_count, wall, placed


async def naive(settings: Any, number: str) -> tuple[int, float]:
    from pcm_servicenow_cmdb.client import ServiceNowClient
    from pcm_servicenow_cmdb.query import Query

    async with ServiceNowClient(settings) as client:
        started = time.perf_counter()
        [change] = await client.records(
            "change_request", query=Query().eq("number", number), fields=("sys_id",)
        )
        links = await client.records(
            "task_ci", query=Query().eq("task", change["sys_id"]), fields=("ci_item",)
        )
        for link in links:
            await client.record("cmdb_ci", str(link["ci_item"]))
        return client.request_count, time.perf_counter() - started


# -------------------------------------------------------------------------------------------
# The change list page, cold and warm
# -------------------------------------------------------------------------------------------

LIST_PAGE = "/tools/servicenow/cmdb/"
#: The floor of any page: core's home page (signed in, rendered, no ServiceNow).
HOME_PAGE = "/"
PASSWORD = "a long enough password"
#: ServiceNow's states, as a list of changes of every age would hold them.
STATES = ("-5", "-4", "-3", "-2", "-1", "0", "3", "4")


def seed_changes(fake: Any, count: int) -> None:
    """``count`` changes of every state, planned windows spread over the past and next weeks."""
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(count):
        start = now + timedelta(hours=(n % 48) * 7 - 168)
        fake.add(
            "change_request",
            short_description=f"Patch the web fleet, wave {n}",
            type=("normal", "standard", "emergency")[n % 3],
            state=STATES[n % len(STATES)],
            approval=("approved", "requested", "not requested")[n % 3],
            on_hold="false",
            risk="4",
            start_date=start.strftime("%Y-%m-%d %H:%M:%S"),
            end_date=(start + timedelta(hours=4)).strftime("%Y-%m-%d %H:%M:%S"),
        )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@asynccontextmanager
async def serve_like_pcm_ops(app: Any) -> AsyncIterator[str]:
    """``app`` (its lifespan running) served by uvicorn on a free loopback port the way
    ``pcm-ops serve`` does (uvicorn binds host and port itself); its base URL.

    Not ``pcm_ops.testing.serve``: it hands uvicorn a socket made without
    ``IPPROTO_TCP``, so asyncio does not set ``TCP_NODELAY`` on its connections, and every
    request after the first on a kept-alive connection waits ~40 ms for a delayed ACK
    (response headers and body are two writes). That is the harness, not the application.
    """
    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(300):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            if task.done():
                task.result()  # the reason it stopped
            raise RuntimeError("uvicorn did not start within 15 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def served_app(cache_seconds: float) -> AsyncIterator[tuple[Any, str]]:
    """A fresh, migrated and seeded SQLite database, the application on it (its lifespan
    running) and its base URL over real HTTP."""
    from asgi_lifespan import LifespanManager

    from pcm_ops.app import create_app
    from pcm_ops.db.engine import Database
    from pcm_ops.db.migrations import upgrade
    from pcm_ops.db.seeds import run_seeds
    from pcm_ops.discovery import discover
    from pcm_ops.settings import load_settings
    from pcm_ops.testing import state_per_request

    with tempfile.TemporaryDirectory(prefix="pcm-servicenow-bench-") as data_dir:
        settings = load_settings(
            data_dir=data_dir,
            plugins=["servicenow-cmdb"],
            plugin_sections={"servicenow-cmdb": {"cache_seconds": cache_seconds}},
        )
        registry = discover(settings)
        # A thread of our own: DBOS replaces (and at its end shuts down) the default
        # executor of the loop it ran jobs from.
        with ThreadPoolExecutor(1) as executor:
            await asyncio.get_running_loop().run_in_executor(executor, upgrade, settings, registry)
        db = Database(settings)
        try:
            await run_seeds(settings, registry, db)
        finally:
            await db.dispose()
        app = create_app(settings, registry)
        try:
            async with (
                LifespanManager(
                    state_per_request(app), startup_timeout=60, shutdown_timeout=60
                ) as manager,
                serve_like_pcm_ops(manager.app) as url,
            ):
                yield app, url
        finally:
            # DBOS made this loop's default executor its own and shut it down when it
            # stopped; the next run needs one.
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())


async def list_page_run(
    fake: Any, requests: int, cache_seconds: float, latency: float
) -> dict[str, Any]:
    """One run: ``requests`` cold and ``requests`` warm GETs of the change list page."""
    import httpx

    from pcm_ops.security.users import create_user
    from pcm_ops.testing import issue_api_token
    from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

    fake.set_latency(0)
    async with served_app(cache_seconds) as (app, url):
        token = await issue_api_token(app, role="admin")
        async with httpx.AsyncClient(base_url=url, timeout=30) as admin:
            created = await admin.post(
                "/api/tools/servicenow/cmdb/connections",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "name": "bench",
                    "base_url": fake.url,
                    "auth_kind": "basic",
                    "username": DEFAULT_USERNAME,
                    "password": DEFAULT_PASSWORD,
                },
            )
            created.raise_for_status()
        async with app.state.database.session() as session:
            await create_user(session, "olivia", PASSWORD, "operator")
        fake.set_latency(latency)
        async with httpx.AsyncClient(
            base_url=url, timeout=30, headers={"Accept": "text/html"}
        ) as browser:
            login = await browser.post(
                "/api/auth/login", json={"username": "olivia", "password": PASSWORD}
            )
            login.raise_for_status()

            async def get(path: str, params: dict[str, str], expect: str) -> float:
                started = time.perf_counter()
                page = await browser.get(path, params=params)
                elapsed = time.perf_counter() - started
                if page.status_code != 200 or expect not in page.text:
                    raise RuntimeError(f"{path} answered {page.status_code}: {page.text}")
                return elapsed

            def changes(refresh: bool) -> Any:
                params = {"refresh": "true"} if refresh else {}
                return get(LIST_PAGE, params, "Patch the web fleet")

            for _ in range(3):  # templates compiled, connections open, the cache filled
                await changes(refresh=True)
                await get(HOME_PAGE, {}, "ServiceNow")
            cold: list[float] = []
            warm: list[float] = []
            home: list[float] = []
            asked = {"cold": 0, "warm": 0}
            for _ in range(requests):
                before = len(fake.requests)
                cold.append(await changes(refresh=True))
                middle = len(fake.requests)
                warm.append(await changes(refresh=False))
                asked["cold"] += middle - before
                asked["warm"] += len(fake.requests) - middle
                home.append(await get(HOME_PAGE, {}, "ServiceNow"))
    return {
        "cold_p50": _percentile(cold, 0.5),
        "cold_p99": _percentile(cold, 0.99),
        "warm_p50": _percentile(warm, 0.5),
        "warm_p99": _percentile(warm, 0.99),
        "home_p50": _percentile(home, 0.5),
        "home_p99": _percentile(home, 0.99),
        "servicenow_requests_per_cold_page": asked["cold"] / requests,
        "servicenow_requests_per_warm_page": asked["warm"] / requests,
    }


def list_page(args: argparse.Namespace) -> dict[str, Any]:
    from pcm_servicenow_cmdb.testing.fake import FakeServiceNow

    latency = args.latency if args.page_latency is None else args.page_latency
    with FakeServiceNow() as fake:
        seed_changes(fake, args.changes)
        runs = [
            asyncio.run(list_page_run(fake, args.page_requests, args.cache_seconds, latency))
            for _ in range(args.runs)
        ]

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    figures: dict[str, Any] = {
        "changes": args.changes,
        "latency": latency,
        "requests": args.page_requests,
        "cache_seconds": args.cache_seconds,
        "runs": runs,
        **{key: median(key) for key in runs[0]},
    }
    figures["p50_ratio"] = figures["warm_p50"] / figures["cold_p50"]
    figures["p99_ratio"] = figures["warm_p99"] / figures["cold_p99"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    def spread(key: str) -> str:
        return f"{ms(min(r[key] for r in runs))}-{ms(max(r[key] for r in runs))}"

    print(
        f"Change list page ({LIST_PAGE}), {args.changes} changes in the fake at "
        f"{latency * 1000:.0f} ms per request, an operator over HTTP; {args.page_requests} "
        f"cold and {args.page_requests} warm requests per run (cache_seconds "
        f"{args.cache_seconds:g}); medians of {args.runs} runs (min-max)."
    )
    print()
    print("| cache | p50 | p99 | ServiceNow requests per page |")
    print("| --- | --- | --- | --- |")
    print(
        f"| cold (`?refresh=true`) | {ms(figures['cold_p50'])} ({spread('cold_p50')}) | "
        f"{ms(figures['cold_p99'])} ({spread('cold_p99')}) | "
        f"{figures['servicenow_requests_per_cold_page']:g} |"
    )
    print(
        f"| warm (cache_seconds {args.cache_seconds:g}) | "
        f"{ms(figures['warm_p50'])} ({spread('warm_p50')}) | "
        f"{ms(figures['warm_p99'])} ({spread('warm_p99')}) | "
        f"{figures['servicenow_requests_per_warm_page']:g} |"
    )
    print(
        f"| baseline: core's home page `{HOME_PAGE}` | {ms(figures['home_p50'])} "
        f"({spread('home_p50')}) | {ms(figures['home_p99'])} ({spread('home_p99')}) | 0 |"
    )
    print()
    print(
        f"warm / cold: p50 {figures['p50_ratio']:.3f}, p99 {figures['p99_ratio']:.3f}; "
        f"cold - latency: p50 {ms(figures['cold_p50'] - latency)}; "
        f"warm / home page: p50 {figures['warm_p50'] / figures['home_p50']:.2f}"
    )
    return figures


def resolve(args: argparse.Namespace) -> dict[str, Any]:

    from pcm_servicenow_cmdb.client import ConnectionSettings
    from pcm_servicenow_cmdb.testing.fake import (
        DEFAULT_PASSWORD,
        DEFAULT_USERNAME,
        FakeServiceNow,
    )

    with FakeServiceNow() as fake:
        number = seed(fake, args.cis)
        fake.set_latency(args.latency)
        settings = ConnectionSettings(
            name="bench",
            base_url=fake.url,
            auth_kind="basic",
            username=DEFAULT_USERNAME,
            password=DEFAULT_PASSWORD,
        )
        runs = [asyncio.run(ours(settings, number)) for _ in range(args.runs)]
        naive_runs = [asyncio.run(naive(settings, number)) for _ in range(args.naive_runs)]

    requests = statistics.median(run[0] for run in runs)
    wall = statistics.median(run[1] for run in runs)
    minimum = minimum_requests(args.cis)
    sequential = requests * args.latency
    figures: dict[str, Any] = {
        "cis": args.cis,
        "latency": args.latency,
        "placed": runs[0][2],
        "requests": requests,
        "minimum_requests": minimum,
        "requests_ratio": requests / minimum,
        "wall": wall,
        "wall_spread": [min(r[1] for r in runs), max(r[1] for r in runs)],
        "sequential": sequential,
        "wall_ratio": wall / sequential,
    }
    if naive_runs:
        figures["naive_requests"] = statistics.median(run[0] for run in naive_runs)
        figures["naive_wall"] = statistics.median(run[1] for run in naive_runs)
    print(
        f"A change with {args.cis} CIs ({figures['placed']} placed on instances), "
        f"{args.latency * 1000:.0f} ms per request; medians of {args.runs} runs."
    )
    print()
    print("| client | requests | / minimum | wall | / sequential round trips | vs naive: wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    naive_wall = figures.get("naive_wall")
    print(
        f"| PCM-Ops | {requests:g} | {requests / minimum:.2f} | {wall:.2f} s "
        f"({figures['wall_spread'][0]:.2f}-{figures['wall_spread'][1]:.2f}) | "
        f"{wall / sequential:.2f}x of {sequential:.1f} s | "
        + (f"{naive_wall / wall:.1f}x faster |" if naive_wall else "- |")
    )
    if naive_wall:
        print(
            f"| naive (a CI at a time) | {figures['naive_requests']:g} | "
            f"{figures['naive_requests'] / minimum:.1f} | {naive_wall:.2f} s | "
            f"{naive_wall / (figures['naive_requests'] * args.latency):.2f}x | 1x |"
        )
    print(f"\nminimum requests: {minimum} (pages of {PAGE})")
    return figures


SECTIONS = {"resolve": resolve, "list-page": list_page}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help="resolve,list-page")
    parser.add_argument("--cis", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=1)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--page-requests", type=int, default=50)
    parser.add_argument("--page-latency", type=float, help="seconds per request (--latency)")
    parser.add_argument("--cache-seconds", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args, _ = parser.parse_known_args()  # bench/run.py passes every benchmark the same args
    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"no section {', '.join(sorted(unknown))}; there are {', '.join(SECTIONS)}")

    from importlib.metadata import version

    print(
        f"Python {platform.python_version()} ({sys.platform}, {platform.machine()}), "
        f"PCM-Ops {version('pcm-ops-core')}, pcm-servicenow-cmdb {version('pcm-servicenow-cmdb')}"
    )
    figures: dict[str, Any] = {}
    for name in chosen:
        print()
        figures[name] = SECTIONS[name](args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
