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

Figures go to stdout as a Markdown table (medians of ``--runs``); ``--json FILE`` writes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cis", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args, _ = parser.parse_known_args()  # bench/run.py passes every benchmark the same args

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
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
