"""Fan-out benchmark of AWS Script Runner executions: AWS calls and wall time of one run on a
large fleet, against a hand-written boto3 script on the same fake AWS.

    python bench/fanout_bench.py [--runs 3] [--baseline-runs 3] [--quick]
        [--accounts 5] [--regions 4] [--per-region 100] [--latency 0.05] [--delayed 1.0]
        [--instances 10000 --account-regions 100]

The fleet: ``--accounts`` x ``--regions`` account-regions with ``--per-region`` SSM-online
instances each (default 5 x 4 x 100 = 2,000 instances in 20 account-regions); or give
``--instances`` (up to 50,000) and ``--account-regions`` (up to 200): the account-regions
are ``--regions`` regions (4 by default) of as many accounts as that takes, with the
instances spread evenly over them. The fleet lives in the
extended moto server (:class:`pcm_aws_common.testing.MotoAws`) with ``--latency`` seconds
(50 ms) injected into every AWS call. moto runs in a child process, so that its work does not
compete with PCM-Ops' for this process's interpreter lock (as real AWS would not), and
serves through waitress, which keeps HTTP connections open between calls as AWS's endpoints
do (``--connections close``: moto's own werkzeug server, which closes every connection, so
that the application opens a TCP connection per call, which it does not against AWS).

What is measured, each ``--runs`` times (medians reported):

* **PCM-Ops**: the application (core's ``create_app``, its lifespan running the job engine
  in-process, as ``pcm-ops serve`` does) on a temporary data directory with SQLite, and on
  PostgreSQL too when ``PCM_BENCH_POSTGRES_URL`` (or ``PCM_TEST_POSTGRES_URL``) is set. The
  accounts are registered through pcm-aws-common's API (a credential source with keys, and
  a role per account to assume), the inventory rows written, and an execution started with
  ``POST /executions`` (max concurrency ``100%``). Wall time: from that POST until
  ``GET /executions/<id>`` says it finished, every result stored. AWS calls: the moto
  server's count of requests by operation, during that time.
* **Baseline**: what a hand-written boto3 script does: for each account (AssumeRole with the
  same keys) and each of its regions, one after the other: ``SendCommand`` in chunks of 50,
  wait the same poll interval as PCM-Ops, then one ``GetCommandInvocation`` per instance,
  again (after the poll interval) for those still running, until all have ended.
* **App CPU and memory** per PCM-Ops run: the CPU seconds (user + system) of the process
  that runs the application (this one; moto runs in its own) from the POST to the end, per
  instance too, and the peak resident set size of that process during the run (Linux:
  the high-water mark is reset before each run through ``/proc/self/clear_refs``; where
  that is not possible the process's lifetime peak is reported, marked ``lifetime``).
* Before each run, a random pause of up to the queue's poll interval (not timed): the wait
  for the job engine's next look at the queue is then a sample, not the same offset every
  run.
* A **delayed** variant (``--delayed`` seconds, PCM-Ops only): every invocation reports
  ``InProgress`` for that long after SendCommand, as a real script takes time: the cost of
  polling while results are not there yet.

The minimum number of SSM calls that SSM's limits allow: one ``SendCommand`` per 50
instances of an account-region, one ``ListCommandInvocations`` page per 50 results. The
latency-bound minimum wall time is given two ways: that many calls one after the other
(calls x latency), and the critical path (AssumeRole, SendCommand, ListCommandInvocations:
three dependent round trips, each account-region's calls concurrent).

Loopback only; everything ends by itself. ``--json PATH`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procstat import process_cpu_seconds  # bench/procstat.py, beside this script

API = "/api/tools/aws/script-runner"
COMMON = "/api/tools/aws/common"
#: ``jobs_queue_poll_seconds`` of the application under test (``--queue-poll``).
QUEUE_POLL_SECONDS = 0.25
#: The pause before each run (not timed): the same sequence in every invocation.
PAUSES = random.Random(15)

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1")
#: The largest fleet and the most account-regions ``--instances``/``--account-regions`` take.
MAX_INSTANCES = 50_000
MAX_ACCOUNT_REGIONS = 200
MANAGEMENT_ACCOUNT = "100000000000"
#: SSM's limits: instance ids per SendCommand, results per ListCommandInvocations page.
SSM_LIMIT = 50
SCRIPT = 'echo "hello from $(hostname)"\n'
FINISHED = ("succeeded", "failed", "cancelled")

RUNNING = frozenset({"Pending", "InProgress", "Delayed", "Cancelling"})
#: Seconds one execution may take before the benchmark gives up (a run of 2,000 takes a
#: few; 50,000 a minute or more).
RUN_TIME_LIMIT = 600


# -------------------------------------------------------------------------------------------
# The fake AWS, in a child process
# -------------------------------------------------------------------------------------------


def serve_moto(accounts: int, regions: int, per_region: int, keep_alive: int = 1) -> None:
    """The child process: start moto, prepare the fleet, print it as one JSON line, and
    serve until standard input closes."""
    from pcm_aws_common.testing import MotoAws

    # keep_alive: connections stay open between calls, as against AWS (werkzeug's server,
    # `--connections close`, makes the app open a new TCP connection for every call).
    with MotoAws(keep_alive=bool(keep_alive)) as aws:
        management = aws.add_account(MANAGEMENT_ACCOUNT)
        fleet: dict[str, Any] = {
            "endpoint_url": aws.endpoint_url,
            "management": {
                "access_key_id": management.access_key_id,
                "secret_access_key": management.secret_access_key,
            },
            "accounts": [],
        }
        for number in range(accounts):
            account_id = f"5{number + 1:011d}"
            account = aws.add_account(account_id)
            fleet["accounts"].append(
                {
                    "account_id": account_id,
                    "role_arn": account.role_arn,
                    "instances": {
                        region: aws.add_instances(account_id, region, per_region)
                        for region in REGIONS[:regions]
                    },
                }
            )
        print(json.dumps(fleet), flush=True)
        sys.stdin.read()


class FakeAws:
    """The moto child process, and its control API (``/pcm-moto/``) over HTTP."""

    def __init__(
        self, accounts: int, regions: int, per_region: int, keep_alive: bool = True
    ) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-moto",
                f"{accounts},{regions},{per_region},{int(keep_alive)}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the moto process ended before it prepared the fleet")
        self.fleet: dict[str, Any] = json.loads(line)
        self.endpoint_url: str = self.fleet["endpoint_url"]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.endpoint_url}/pcm-moto/{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def set_latency(self, seconds: float) -> None:
        self.control("POST", "latency", {"seconds": seconds})

    def set_delay(self, seconds: float) -> None:
        """Invocations of commands sent from now on succeed after ``seconds``."""
        self.control("POST", "ssm/default-outcome", {"status": "Success", "after": seconds})

    def requests(self) -> dict[str, int]:
        return dict(self.control("GET", "requests"))

    def account_regions(self) -> list[tuple[str, str, list[str]]]:
        return [
            (account["account_id"], region, ids)
            for account in self.fleet["accounts"]
            for region, ids in account["instances"].items()
        ]

    def instance_count(self) -> int:
        return sum(len(ids) for _, _, ids in self.account_regions())


def _difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {
        name: after[name] - before.get(name, 0)
        for name in sorted(after)
        if after[name] - before.get(name, 0)
    }


# -------------------------------------------------------------------------------------------
# PCM-Ops
# -------------------------------------------------------------------------------------------


def _postgres_url() -> str | None:
    return os.environ.get("PCM_BENCH_POSTGRES_URL") or os.environ.get("PCM_TEST_POSTGRES_URL")


@contextmanager
def database(backend: str) -> Iterator[tuple[str, str | None]]:
    """A fresh data directory and database URL (``None``: SQLite in the data directory)."""
    with tempfile.TemporaryDirectory(prefix="pcm-fanout-bench-") as data_dir:
        if backend == "sqlite":
            yield data_dir, None
            return
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(_postgres_url() or "").set(drivername="postgresql")
        name = f"pcm_fanout_bench_{uuid.uuid4().hex[:8]}"
        admin = url.set(database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield data_dir, url.set(database=name).render_as_string(hide_password=False)
        finally:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """A running PCM-Ops application with the fleet registered, and how to call it."""

    client: Any
    operator: dict[str, str]
    admin: dict[str, str]
    script_id: int
    news: News


class News:
    """Wakes the client when an execution's event stream gets an event in the server
    (core's local listeners: what wakes the live page's Server-Sent Events), so that it
    reads the execution when something happened instead of polling it every few ms."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def __call__(self, stream: str) -> None:  # called in the publishing thread
        if stream.startswith("aws-script-runner:execution:"):
            self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)
        self.event.clear()


@asynccontextmanager
async def pcm_ops(
    aws: FakeAws, backend: str, poll: float, max_poll: float
) -> AsyncIterator[Server]:
    """The application with its lifespan running (the job engine in-process, as in
    ``pcm-ops serve``), migrated and seeded, with the fleet registered."""
    from pcm_ops.app import create_app
    from pcm_ops.db.migrations import upgrade
    from pcm_ops.db.seeds import run_seeds
    from pcm_ops.discovery import discover
    from pcm_ops.settings import load_settings
    from pcm_ops.testing import app_client, issue_api_token

    # A developer's PCM_* settings must not change the figures (PCM_BENCH_*, PCM_TEST_*
    # configure the benchmark itself).
    for name in list(os.environ):
        if name.startswith("PCM_") and not name.startswith(("PCM_BENCH_", "PCM_TEST_")):
            del os.environ[name]
    os.environ.update(
        {
            "PCM_AWS_COMMON__ENDPOINT_URL": aws.endpoint_url,
            "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": str(poll),
            "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": str(max_poll),
            # The bench syncs the inventory itself, before the runs: the scheduled sync
            # (every 30 minutes, on the clock) would land in whichever run spans :00 or :30.
            "PCM_AWS_SCRIPT_RUNNER__INVENTORY_SYNC_SCHEDULE": "",
        }
    )
    with database(backend) as (data_dir, url):
        settings = load_settings(
            data_dir=data_dir,
            database_url=url,
            plugins=["aws-common", "aws-script-runner"],
            executor_id=f"fanout-bench-{backend}",
            jobs_queue_poll_seconds=QUEUE_POLL_SECONDS,
            jobs_heartbeat_seconds=1.0,
        )
        registry = discover(settings)
        await asyncio.to_thread(upgrade, settings, registry)
        app = create_app(settings, registry)
        async with app_client(app) as client:
            await run_seeds(settings, registry, app.state.database)
            admin = {"Authorization": f"Bearer {await issue_api_token(app, 'admin')}"}
            operator = {"Authorization": f"Bearer {await issue_api_token(app, 'operator')}"}
            await _register(client, app, aws, admin)
            response = await client.post(
                f"{API}/scripts",
                headers=admin,
                json={"name": "fanout", "language": "shell", "body": SCRIPT},
            )
            assert response.status_code == 201, response.text
            from pcm_ops.jobs.events import add_local_listener, remove_local_listener

            news = News()
            add_local_listener(news)
            try:
                yield Server(client, operator, admin, int(response.json()["id"]), news)
            finally:
                remove_local_listener(news)


async def _register(client: Any, app: Any, aws: FakeAws, admin: dict[str, str]) -> None:
    """The accounts through pcm-aws-common's API (one shared credential source with keys, a
    role to assume in each account) and the inventory rows the sync job would write."""
    from pcm_aws_script_runner.models import AwsSrInstance

    source = await client.post(
        f"{COMMON}/credentials",
        headers=admin,
        json={"name": "bench-keys", "partition": "aws", "shared": True, **aws.fleet["management"]},
    )
    assert source.status_code == 201, source.text
    for account in aws.fleet["accounts"]:
        registered = await client.post(
            f"{COMMON}/accounts",
            headers=admin,
            json={
                "account_id": account["account_id"],
                "name": f"bench-{account['account_id']}",
                "partition": "aws",
                "regions": list(account["instances"]),
                "credential_source_id": source.json()["id"],
                "role_arn": account["role_arn"],
            },
        )
        assert registered.status_code == 201, registered.text
    from sqlalchemy import insert

    rows = [
        {
            "account_id": account_id,
            "region": region,
            "instance_id": instance_id,
            "name": f"bench-{region}-{number:03d}",
            "state": "running",
            "platform": "Linux",
            "ssm_managed": True,
            "ping_status": "Online",
            "tags": {},
        }
        for account_id, region, ids in aws.account_regions()
        for number, instance_id in enumerate(ids)
    ]
    async with app.state.database.session() as session:
        connection = await session.connection()
        for start in range(0, len(rows), 5000):  # the fleet: setup, not measured
            await connection.execute(insert(AwsSrInstance), rows[start : start + 5000])


def _release_free_memory() -> None:
    """Collect garbage and hand the C allocator's free pages back to the system (glibc's
    ``malloc_trim``), so that the run's RSS starts from what the process holds, not from
    what the allocator kept of the benchmark's own set-up (writing the fleet's inventory
    rows, the previous run)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        with suppress(OSError, AttributeError):  # AttributeError: not glibc
            ctypes.CDLL(name).malloc_trim(0)


def _reset_peak_rss() -> bool:
    """Reset this process's peak resident set size (Linux 4.0+); ``False`` if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def _peak_rss_mib() -> float:
    """This process's peak resident set size since the last reset (else its lifetime's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process (every thread of it)."""
    times = os.times()
    return times.user + times.system


class _CollectorClock:
    """Seconds this process spent in the garbage collector's collections (their wall
    time, taken from :data:`gc.callbacks`; a collection holds the interpreter lock)."""

    def __init__(self) -> None:
        import gc
        import threading

        self.seconds = 0.0
        self._started: dict[int, float] = {}
        self._thread_id = threading.get_ident
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        key = self._thread_id()
        if phase == "start":
            self._started[key] = time.perf_counter()
        elif key in self._started:
            self.seconds += time.perf_counter() - self._started.pop(key)


GC = _CollectorClock()


def _reference_seconds() -> float:
    """CPU seconds of a fixed piece of pure-Python work (the best of three), taken just
    before a run: how fast this machine runs Python right now. A shared VM's speed drifts
    by tens of percent within an hour; runs of two versions compare fairly only at the
    same speed, and this column says whether they were."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for number in range(1_000_000):
            total += number
        best = min(best, time.process_time() - started)
    return best


def _timestamp(text: str | None) -> float:
    from datetime import datetime

    assert text is not None
    return datetime.fromisoformat(text).timestamp()


async def pcm_ops_run(server: Server, aws: FakeAws) -> dict[str, Any]:
    """One execution on the whole fleet: wall time, AWS calls, and where the time went."""
    from pcm_aws_script_runner.domain import TERMINAL_STATUSES

    client = server.client
    ids = [i for _, _, region_ids in aws.account_regions() for i in region_ids]
    body = {
        "script_id": server.script_id,
        "targets": {"instance_ids": ids},
        "max_concurrency": "100%",
    }
    # The job engine looks for queued jobs every QUEUE_POLL_SECONDS: a run that starts
    # right after the one before lands at the same point of that cycle every time, so the
    # runs' wait for it (up to a whole interval) was not a sample but a constant, set by
    # how long the run before took. A random pause first makes it one.
    await asyncio.sleep(PAUSES.uniform(0.0, QUEUE_POLL_SECONDS))
    reference = _reference_seconds()
    before = aws.requests()
    _release_free_memory()
    peak_is_per_run = _reset_peak_rss()
    rss_before = _peak_rss_mib()
    cpu = _cpu_seconds()
    collecting = GC.seconds
    aws_cpu = process_cpu_seconds(aws.process.pid)
    clock = time.time()  # the server's timestamps are on this clock
    started = time.perf_counter()
    response = await client.post(f"{API}/executions", headers=server.operator, json=body)
    posted = time.perf_counter()
    assert response.status_code == 201, response.text
    execution_id = response.json()["execution"]["id"]
    job_id = response.json()["job_id"]
    while True:
        got = await client.get(f"{API}/executions/{execution_id}", headers=server.operator)
        detail = got.json()
        if detail["status"] in FINISHED:
            break
        if time.perf_counter() - started > RUN_TIME_LIMIT:
            raise RuntimeError(f"execution {execution_id} is still {detail['status']}")
        # As the live page does: read again when the execution's stream has news (the
        # final status commits just after its event: then every 20 ms), else every 0.25 s.
        ended = sum(n for status, n in detail["counts"].items() if status in TERMINAL_STATUSES)
        await server.news.wait(0.02 if ended == len(ids) else 0.25)
    wall = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    collected = GC.seconds - collecting
    aws_after = process_cpu_seconds(aws.process.pid)
    aws_cpu = aws_after - aws_cpu if aws_cpu is not None and aws_after is not None else None
    peak = _peak_rss_mib()
    calls = _difference(aws.requests(), before)
    assert detail["status"] == "succeeded", detail
    assert detail["counts"] == {"Success": len(ids)}, detail["counts"]
    job = (await client.get(f"/api/jobs/{job_id}", headers=server.admin)).json()
    return {
        "wall": wall,
        "cpu": cpu,
        "cpu_per_instance_ms": cpu / len(ids) * 1000,
        "gc": collected,
        "reference": reference,
        "aws_cpu": aws_cpu,
        "peak_rss_mib": peak,
        "peak_rss_per_run": peak_is_per_run,
        "rss_before_mib": rss_before,
        "calls": calls,
        "phases": _phases(job["steps"], clock, posted - started, wall),
    }


def _phases(
    steps: list[dict[str, Any]], clock: float, post: float, wall: float
) -> dict[str, float]:
    """Where the wall time went, from the job's steps: seconds since the POST."""

    def span(*names: str) -> tuple[float, float, int]:
        chosen = [step for step in steps if step["name"] in names]
        return (
            min(_timestamp(step["started_at"]) for step in chosen) - clock,
            max(_timestamp(step["finished_at"]) for step in chosen) - clock,
            len(chosen),
        )

    def total(name: str) -> float:
        return sum(
            _timestamp(step["finished_at"]) - _timestamp(step["started_at"])
            for step in steps
            if step["name"] == name
        )

    begin_start, begin_end, _ = span("aws-script-runner.begin_execution")
    # send_batch: a step per batch, before sending went in groups (to measure older code).
    send_start, send_end, _ = span("aws-script-runner.send_batches", "aws-script-runner.send_batch")
    _, _, polls = span("aws-script-runner.poll_results")
    finish_start, finish_end, _ = span("aws-script-runner.finish_execution")
    return {
        "post": post,
        "queued": begin_start - post,
        "begin": begin_end - begin_start,
        "sending": send_end - send_start,
        "waiting": total("DBOS.sleep"),
        "polling": total("aws-script-runner.poll_results"),
        "polls": polls,
        "finish": finish_end - finish_start,
        "seen": wall - finish_end,
    }


async def pcm_ops_runs(
    aws: FakeAws, backend: str, runs: int, poll: float, max_poll: float, delayed: float
) -> dict[str, list[dict[str, Any]]]:
    """``runs`` executions of each variant on one server. The first execution, not measured,
    warms it up (imports, AssumeRole, client pools), as on a server that has run before."""
    measured: dict[str, list[dict[str, Any]]] = {"instant": [], "delayed": []}
    async with pcm_ops(aws, backend, poll, max_poll) as server:
        aws.set_delay(0)
        measured["first"] = [await pcm_ops_run(server, aws)]
        for _ in range(runs):
            measured["instant"].append(await pcm_ops_run(server, aws))
        if delayed:
            aws.set_delay(delayed)
            for _ in range(runs):
                measured["delayed"].append(await pcm_ops_run(server, aws))
            aws.set_delay(0)
    return measured


# -------------------------------------------------------------------------------------------
# The baseline: a hand-written boto3 script
# -------------------------------------------------------------------------------------------


def baseline_run(aws: FakeAws, poll: float) -> dict[str, Any]:
    """What a typical script does, one account-region after the other."""
    import boto3

    before = aws.requests()
    started = time.perf_counter()
    keys = aws.fleet["management"]
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=aws.endpoint_url,
        aws_access_key_id=keys["access_key_id"],
        aws_secret_access_key=keys["secret_access_key"],
    )
    results: dict[str, str] = {}
    for account in aws.fleet["accounts"]:
        credentials = sts.assume_role(RoleArn=account["role_arn"], RoleSessionName="fan-out")[
            "Credentials"
        ]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        for region, ids in account["instances"].items():
            ssm = session.client("ssm", region_name=region, endpoint_url=aws.endpoint_url)
            command_of: dict[str, str] = {}
            for start in range(0, len(ids), SSM_LIMIT):
                chunk = ids[start : start + SSM_LIMIT]
                command = ssm.send_command(
                    InstanceIds=chunk,
                    DocumentName="AWS-RunShellScript",
                    Parameters={"commands": [SCRIPT]},
                )["Command"]
                command_of.update(dict.fromkeys(chunk, command["CommandId"]))
            waiting = list(ids)
            while waiting:
                time.sleep(poll)
                still = []
                for instance_id in waiting:
                    try:
                        invocation = ssm.get_command_invocation(
                            CommandId=command_of[instance_id], InstanceId=instance_id
                        )
                    except ssm.exceptions.InvocationDoesNotExist:
                        still.append(instance_id)
                        continue
                    if invocation["Status"] in RUNNING:
                        still.append(instance_id)
                    else:
                        results[instance_id] = invocation["Status"]
                waiting = still
    wall = time.perf_counter() - started
    assert set(results.values()) == {"Success"}, set(results.values())
    assert len(results) == aws.instance_count()
    return {"wall": wall, "calls": _difference(aws.requests(), before)}


# -------------------------------------------------------------------------------------------
# Figures
# -------------------------------------------------------------------------------------------


def minimum_calls(aws: FakeAws) -> int:
    """SendCommand and ListCommandInvocations calls that SSM's limits allow at the least."""
    return sum(2 * math.ceil(len(ids) / SSM_LIMIT) for _, _, ids in aws.account_regions())


def ssm_calls(calls: dict[str, int]) -> int:
    return sum(n for name, n in calls.items() if name.startswith("ssm."))


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _median_calls(runs: list[dict[str, Any]]) -> dict[str, float]:
    names = sorted({name for run in runs for name in run["calls"]})
    return {name: statistics.median(run["calls"].get(name, 0) for run in runs) for name in names}


def _spread(runs: list[dict[str, Any]], key: str) -> str:
    values = [run[key] for run in runs]
    return f"{min(values):.2f}-{max(values):.2f} s"


def _over(value: float, base: float) -> float | None:
    """``value / base``, or ``None`` without latency (no latency-bound minimum)."""
    return value / base if base else None


def _calls_text(calls: dict[str, float]) -> str:
    return ", ".join(f"{name.split('.', 1)[1]} {n:g}" for name, n in calls.items()) or "none"


def summarize(
    aws: FakeAws,
    latency: float,
    pcm: dict[str, dict[str, list[dict[str, Any]]]],
    baseline: list[dict[str, Any]],
) -> dict[str, Any]:
    minimum = minimum_calls(aws)
    sequential = minimum * latency
    critical = 3 * latency
    base_wall = _median(baseline, "wall") if baseline else None
    base_calls = _median_calls(baseline) if baseline else {}
    base_ssm = ssm_calls({k: int(v) for k, v in base_calls.items()}) if baseline else None
    rows = []
    for backend, variants in pcm.items():
        for variant in ("instant", "delayed"):
            runs = variants[variant]
            if not runs:
                continue
            wall = _median(runs, "wall")
            calls = _median_calls(runs)
            ssm = statistics.median(ssm_calls(run["calls"]) for run in runs)
            rows.append(
                {
                    "backend": backend,
                    "variant": variant,
                    "runs": len(runs),
                    "wall": wall,
                    "spread": _spread(runs, "wall"),
                    "calls": calls,
                    "first_run_calls": variants["first"][0]["calls"],
                    "first_run_wall": variants["first"][0]["wall"],
                    "cpu": _median(runs, "cpu"),
                    "cpu_per_instance_ms": _median(runs, "cpu_per_instance_ms"),
                    "gc": _median(runs, "gc"),
                    "reference": _median(runs, "reference"),
                    "aws_cpu": statistics.median(run["aws_cpu"] for run in runs)
                    if all(run["aws_cpu"] is not None for run in runs)
                    else None,
                    "peak_rss_mib": _median(runs, "peak_rss_mib"),
                    "peak_rss_max_mib": max(run["peak_rss_mib"] for run in runs),
                    "peak_rss_per_run": all(run["peak_rss_per_run"] for run in runs),
                    "rss_before_mib": _median(runs, "rss_before_mib"),
                    "ssm_calls": ssm,
                    "calls_over_minimum": ssm / minimum,
                    "wall_over_sequential_minimum": _over(wall, sequential),
                    "wall_over_critical_path": _over(wall, critical),
                    "baseline_calls_over_ours": base_ssm / ssm
                    if base_ssm and variant == "instant"
                    else None,
                    "baseline_wall_over_ours": base_wall / wall
                    if base_wall and variant == "instant"
                    else None,
                    "phases": {
                        key: statistics.median(run["phases"][key] for run in runs)
                        for key in runs[0]["phases"]
                    },
                }
            )
    return {
        "instances": aws.instance_count(),
        "account_regions": len(aws.account_regions()),
        "latency": latency,
        "minimum_ssm_calls": minimum,
        "sequential_minimum": sequential,
        "critical_path": critical,
        "pcm_ops": rows,
        "baseline": {
            "runs": len(baseline),
            "wall": base_wall,
            "spread": _spread(baseline, "wall") if baseline else None,
            "calls": base_calls,
            "ssm_calls": base_ssm,
        },
    }


def report(figures: dict[str, Any], delayed: float) -> None:
    ms = figures["latency"] * 1000
    print()
    print(
        f"{figures['instances']} instances in {figures['account_regions']} account-regions, "
        f"{ms:.0f} ms per AWS call. Minimum SSM calls: {figures['minimum_ssm_calls']} "
        f"(SendCommand + ListCommandInvocations pages of {SSM_LIMIT}); as sequential round "
        f"trips {figures['sequential_minimum']:.2f} s; critical path (AssumeRole → "
        f"SendCommand → ListCommandInvocations) {figures['critical_path'] * 1000:.0f} ms."
    )
    print()
    print(
        "| run | backend | wall time (median) | spread | SSM calls | calls / minimum | "
        "wall / sequential minimum | wall / critical path | baseline / ours: calls | "
        "baseline / ours: wall |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def ratio(value: float | None) -> str:
        return f"{value:.2f}x" if value is not None else "-"

    for row in figures["pcm_ops"]:
        name = "PCM-Ops" if row["variant"] == "instant" else f"PCM-Ops, {delayed:g} s scripts"
        print(
            f"| {name} | {row['backend']} | {row['wall']:.2f} s | {row['spread']} | "
            f"{row['ssm_calls']:g} | {row['calls_over_minimum']:.2f} | "
            f"{ratio(row['wall_over_sequential_minimum'])} | "
            f"{ratio(row['wall_over_critical_path'])} | "
            f"{ratio(row['baseline_calls_over_ours'])} | {ratio(row['baseline_wall_over_ours'])} |"
        )
    base = figures["baseline"]
    if base["runs"]:
        print(
            f"| baseline (boto3 script) | - | {base['wall']:.2f} s | {base['spread']} | "
            f"{base['ssm_calls']:g} | {base['ssm_calls'] / figures['minimum_ssm_calls']:.2f} | "
            f"{ratio(_over(base['wall'], figures['sequential_minimum']))} | "
            f"{ratio(_over(base['wall'], figures['critical_path']))} | 1.00x | 1.00x |"
        )
    print()
    print("The application's process during a run (medians; moto's process not included, its")
    print("CPU in the last column: the fake AWS's own work, which real AWS does elsewhere):")
    print()
    print(
        "| run | backend | app CPU | CPU per instance | peak RSS (max of runs) | "
        "RSS at the start | CPU / wall | in the garbage collector | fake AWS CPU | "
        "reference loop |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in figures["pcm_ops"]:
        name = "PCM-Ops" if row["variant"] == "instant" else f"PCM-Ops, {delayed:g} s scripts"
        peak = f"{row['peak_rss_mib']:.0f} MiB ({row['peak_rss_max_mib']:.0f})"
        if not row["peak_rss_per_run"]:
            peak += " lifetime"
        print(
            f"| {name} | {row['backend']} | {row['cpu']:.2f} s | "
            f"{row['cpu_per_instance_ms']:.3f} ms | {peak} | {row['rss_before_mib']:.0f} MiB | "
            f"{row['cpu'] / row['wall']:.2f} | {row['gc']:.2f} s | "
            + (f"{row['aws_cpu']:.2f} s |" if row["aws_cpu"] is not None else "- |")
            + f" {row['reference'] * 1000:.0f} ms |"
        )
    print()
    print("AWS calls by operation (medians):")
    for row in figures["pcm_ops"]:
        print(f"- PCM-Ops {row['variant']} ({row['backend']}): {_calls_text(row['calls'])}")
    if base["runs"]:
        print(f"- baseline: {_calls_text(base['calls'])}")
    for row in figures["pcm_ops"]:
        if row["variant"] == "instant":
            print(
                f"- PCM-Ops first run on a new server ({row['backend']}, not in the medians): "
                f"{_calls_text(row['first_run_calls'])}; wall {row['first_run_wall']:.2f} s"
            )
    print()
    print("Where PCM-Ops' wall time went (medians, seconds; from the job's steps):")
    for row in figures["pcm_ops"]:
        phase = row["phases"]
        print(
            f"- {row['variant']} ({row['backend']}): POST /executions {phase['post']:.2f}, "
            f"queued {phase['queued']:.2f}, begin {phase['begin']:.2f}, "
            f"{SSM_LIMIT}-instance batches sent {phase['sending']:.2f}, "
            f"poll waits {phase['waiting']:.2f}, {phase['polls']:g} polls {phase['polling']:.2f}, "
            f"finish {phase['finish']:.2f}, seen by the client {phase['seen']:.2f}"
        )


def _load() -> str:
    """The machine's 1, 5 and 15 minute load averages (it is shared: quote them)."""
    try:
        return " / ".join(f"{n:.2f}" for n in os.getloadavg())
    except OSError:
        return "unknown"


def _fleet_shape(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--instances`` and ``--account-regions`` as accounts x regions x per region."""
    pairs = args.account_regions or 20
    instances = args.instances or pairs * args.per_region
    if not 1 <= instances <= MAX_INSTANCES:
        parser.error(f"--instances: from 1 to {MAX_INSTANCES:,}")
    if not 1 <= pairs <= MAX_ACCOUNT_REGIONS:
        parser.error(f"--account-regions: from 1 to {MAX_ACCOUNT_REGIONS}")
    regions = min(args.regions, pairs)
    if pairs % regions or instances % pairs:
        parser.error(
            f"--account-regions ({pairs}) must be a multiple of --regions ({regions}), and "
            f"--instances ({instances}) of --account-regions"
        )
    args.accounts, args.regions, args.per_region = pairs // regions, regions, instances // pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="PCM-Ops runs per variant")
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=1,
        help="runs of the baseline, about 2 minutes each at the default size (its wall time "
        "is the sum of ~2,000 sequential round trips, so it varies little)",
    )
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--regions", type=int, default=4, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--per-region", type=int, default=100)
    parser.add_argument(
        "--instances",
        type=int,
        help=f"the fleet's size (up to {MAX_INSTANCES:,}), spread evenly over "
        "--account-regions; overrides --accounts and --per-region",
    )
    parser.add_argument(
        "--account-regions",
        type=int,
        help=f"with --instances: how many account-regions (up to {MAX_ACCOUNT_REGIONS}), "
        "--regions regions of as many accounts as that takes (default 20)",
    )
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per AWS call")
    parser.add_argument(
        "--delayed", type=float, default=1.0, help="seconds a delayed invocation takes; 0: skip"
    )
    parser.add_argument("--poll", type=float, default=0.1, help="poll interval, seconds")
    parser.add_argument("--max-poll", type=float, default=1.0, help="longest poll interval")
    parser.add_argument(
        "--queue-poll",
        type=float,
        default=0.25,
        help="how often the job engine looks for queued jobs, seconds (the setting's "
        "default is 1; each look is a transaction per queue, so a very short one costs CPU "
        "and, on SQLite, the write lock)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 2 x 2 x 60 instances, one run each"
    )
    parser.add_argument(
        "--backends",
        help="comma-separated: sqlite, postgresql (default: sqlite, and postgresql when "
        "PCM_BENCH_POSTGRES_URL is set)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--connections",
        choices=("keep-alive", "close"),
        default="keep-alive",
        help="the fake AWS keeps HTTP connections open between calls, as AWS does "
        "(keep-alive, waitress), or closes each one (close: moto's own werkzeug server)",
    )
    parser.add_argument("--serve-moto", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # bench/run.py passes every benchmark the same args
    if args.serve_moto:
        serve_moto(*(int(n) for n in args.serve_moto.split(",")))
        return
    if args.quick:
        args.accounts, args.regions, args.per_region, args.runs = 2, 2, 60, 1
        args.baseline_runs = min(args.baseline_runs, 1)
    elif args.instances is not None or args.account_regions is not None:
        _fleet_shape(parser, args)
    baseline_runs = args.baseline_runs
    global QUEUE_POLL_SECONDS
    QUEUE_POLL_SECONDS = args.queue_poll

    from pcm_ops.__about__ import __version__

    backends = ["sqlite"] + (["postgresql"] if _postgres_url() else [])
    if args.backends:
        backends = [name.strip() for name in args.backends.split(",") if name.strip()]
        if "postgresql" in backends and not _postgres_url():
            parser.error("--backends postgresql needs PCM_BENCH_POSTGRES_URL")
    print(
        f"PCM-Ops {__version__}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {args.runs} runs (baseline {baseline_runs}); "
        f"{args.accounts} accounts x {args.regions} regions x {args.per_region} instances, "
        f"{args.latency * 1000:g} ms per AWS call, poll interval {args.poll:g} s, "
        f"queue poll {args.queue_poll:g} s; load average {_load()}",
        flush=True,
    )
    if not _postgres_url():
        print("PostgreSQL skipped: set PCM_BENCH_POSTGRES_URL=postgresql://user@host/db")
    started = time.perf_counter()
    aws = FakeAws(
        args.accounts, args.regions, args.per_region, keep_alive=args.connections == "keep-alive"
    )
    try:
        print(f"fleet ready in {time.perf_counter() - started:.1f} s", flush=True)
        aws.set_latency(args.latency)
        pcm = {}
        for backend in backends:
            pcm[backend] = asyncio.run(
                pcm_ops_runs(aws, backend, args.runs, args.poll, args.max_poll, args.delayed)
            )
            print(f"PCM-Ops on {backend} done", flush=True)
        baseline = [baseline_run(aws, args.poll) for _ in range(baseline_runs)]
    finally:
        aws.close()
    figures = summarize(aws, args.latency, pcm, baseline)
    figures["raw"] = {"pcm_ops": pcm, "baseline": baseline}
    report(figures, args.delayed)
    print(
        f"\n(the whole benchmark took {time.perf_counter() - started:.0f} s; load average at "
        f"the end {_load()})"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
