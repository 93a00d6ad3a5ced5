"""Benchmarks of the job engine: event latency across processes, and queue throughput.

    python bench/jobs_bench.py [--runs 3] [--events 200] [--jobs 200]

What is measured, on SQLite and, when ``PCM_BENCH_POSTGRES_URL`` (or
``PCM_TEST_POSTGRES_URL``) names a PostgreSQL server, on PostgreSQL too:

* **event latency**: a ``pcm-ops worker`` process publishes events from a job step (one
  every 10 ms, each carrying its publish time); a client reads them as Server-Sent Events
  from a separate API server process (``jobs_execute_in_server`` off, as when workers do
  the work). Latency is receive time minus publish time, p50 and p99. Baseline: one
  ``INSERT`` plus one ``SELECT`` of the same row on the same database, from this process.
* **queue throughput**: jobs of one no-op step each, enqueued on a queue without limits and
  run by the engine in this process (``jobs_queue_poll_seconds`` 0.1); jobs per second from
  the first enqueue to the last completion. Baseline: a loop of ``INSERT`` + ``SELECT`` (one
  transaction each) on the same database: how many such round trips one job costs.

Every measurement runs ``--runs`` times; the medians are reported. Everything listens on
127.0.0.1 only and ends by itself. The same file is also the job module of the worker it
starts (imported as the module ``jobs_bench``) and the API server (``--serve PORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from pcm_ops import hookimpl
from pcm_ops.plugin import JobDefinitions, PluginMetadata, QueueDefinition

HERE = Path(__file__).resolve().parent
QUEUE = "jobs-bench.work"
EVENT_INTERVAL = 0.01

metadata = PluginMetadata(
    id="jobs-bench",
    display_name="Jobs benchmark",
    provider="bench",
    tool="jobs",
    description="Workflows for bench/jobs_bench.py.",
)


@hookimpl
def pcm_ops_jobs() -> JobDefinitions:
    return JobDefinitions(modules=["jobs_bench"], queues=[QueueDefinition(QUEUE)])


def _define_workflows() -> None:
    """The benchmark's jobs. Defined only when the job engine imports this file as the
    module ``jobs_bench``, not when it runs as the benchmark's main script."""
    from dbos import DBOS

    from pcm_ops.jobs import publish_job_event

    @DBOS.step(name="jobs-bench.publish_all")
    def publish_all(count: int, interval: float) -> None:
        time.sleep(1.0)  # the client connects meanwhile: measure delivery, not connecting
        for number in range(count):
            publish_job_event("tick", {"n": number, "t": time.time()})
            time.sleep(interval)

    @DBOS.workflow(name="jobs-bench.publisher")
    def publisher(count: int, interval: float) -> None:
        publish_all(count, interval)

    @DBOS.step(name="jobs-bench.nothing")
    def nothing() -> None:
        return None

    @DBOS.workflow(name="jobs-bench.noop")
    def noop() -> None:
        nothing()


if __name__ == "jobs_bench":
    _define_workflows()


def _registry(settings: Any) -> Any:
    from pcm_ops.discovery import ENTRY_POINT_GROUP, discover

    return discover(
        settings, entry_points_=[EntryPoint("jobs-bench", "jobs_bench", ENTRY_POINT_GROUP)]
    )


# -------------------------------------------------------------------------------------------
# Child processes: a worker and an API server
# -------------------------------------------------------------------------------------------


def run_worker_process() -> None:
    from pcm_ops.jobs.worker import run_worker
    from pcm_ops.settings import load_settings

    settings = load_settings()
    run_worker(
        settings,
        _registry(settings),
        drain_seconds=0,
        on_ready=lambda engine: print("READY", flush=True),
    )


def run_server_process(port: int) -> None:
    import uvicorn

    from pcm_ops.app import create_app
    from pcm_ops.settings import load_settings

    settings = load_settings()
    uvicorn.run(
        create_app(settings, _registry(settings)), host="127.0.0.1", port=port, log_level="warning"
    )


# -------------------------------------------------------------------------------------------
# Databases
# -------------------------------------------------------------------------------------------


@contextmanager
def database(backend: str) -> Iterator[dict[str, str]]:
    """``PCM_*`` variables of a fresh database (and data directory) for one backend."""
    with tempfile.TemporaryDirectory(prefix="pcm-jobs-bench-") as data_dir:
        env = {"PCM_DATA_DIR": data_dir}
        if backend == "sqlite":
            yield env
            return
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(_postgres_url() or "").set(drivername="postgresql")
        name = f"pcm_jobs_bench_{uuid.uuid4().hex[:8]}"
        admin = url.set(database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield {
                **env,
                "PCM_DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
            }
        finally:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_url() -> str | None:
    return os.environ.get("PCM_BENCH_POSTGRES_URL") or os.environ.get("PCM_TEST_POSTGRES_URL")


def _settings(env: dict[str, str], **overrides: Any) -> Any:
    from pcm_ops.settings import load_settings

    return load_settings(
        data_dir=env["PCM_DATA_DIR"], database_url=env.get("PCM_DATABASE_URL"), **overrides
    )


def _migrate(env: dict[str, str]) -> None:
    from pcm_ops.db.migrations import upgrade

    settings = _settings(env)
    upgrade(settings, _registry(settings))


def insert_select_seconds(env: dict[str, str], count: int) -> list[float]:
    """Baseline: ``count`` times one INSERT and one SELECT of that row, each committed."""
    from sqlalchemy import select

    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.jobs.models import EventStream, table_of

    table = table_of(EventStream)
    engine = create_sync_engine(_settings(env))
    timings = []
    try:
        for number in range(count):
            started = time.perf_counter()
            with engine.begin() as connection:
                connection.execute(
                    table.insert().values(
                        name=f"baseline:{uuid.uuid4().hex}:{number}", last_seq=0, updated_at=_now()
                    )
                )
            with engine.connect() as connection:
                connection.execute(select(table.c.last_seq).limit(1)).all()
            timings.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return timings


def _now() -> Any:
    from pcm_ops.db.types import utcnow

    return utcnow()


# -------------------------------------------------------------------------------------------
# Event latency
# -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def _token(env: dict[str, str]) -> str:
    from pcm_ops.db.engine import Database
    from pcm_ops.security.models import User
    from pcm_ops.security.tokens import create_token

    database = Database(_settings(env))
    try:
        async with database.session() as session:
            user = User(username=f"bench-{uuid.uuid4().hex[:6]}", password_hash="!", role="admin")
            session.add(user)
            await session.flush()
            issued = await create_token(
                session, user, "bench", ["core:jobs.read"], frozenset({"core:jobs.read"}), 1
            )
    finally:
        await database.dispose()
    return issued.raw


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    handle = log.open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            env={**inherited, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    finally:
        handle.close()


def event_latencies(
    env: dict[str, str], runs: int, events: int, server_env: dict[str, str] | None = None
) -> list[list[float]]:
    """Per run: the latency of every event, in seconds."""
    import httpx

    from pcm_ops.jobs.service import JobStore

    logs = Path(env["PCM_DATA_DIR"])
    worker = _spawn(
        ["--worker"],
        {**env, "PCM_EXECUTOR_ID": "bench-worker", "PCM_JOBS_QUEUE_POLL_SECONDS": "0.1"},
        logs / "worker.log",
    )
    port = _free_port()
    server = _spawn(
        ["--serve", str(port)],
        {
            **env,
            "PCM_EXECUTOR_ID": "bench-server",
            "PCM_JOBS_EXECUTE_IN_SERVER": "false",
            **(server_env or {}),
        },
        logs / "server.log",
    )
    base = f"http://127.0.0.1:{port}"
    store = JobStore(_settings(env))
    try:
        _wait(lambda: "READY" in (logs / "worker.log").read_text(), 120, "the worker")

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(answers, 120, "the API server")
        headers = {"Authorization": f"Bearer {asyncio.run(_token(env))}"}
        results = []
        for _ in range(runs):
            job_id = f"jobs-bench:{uuid.uuid4().hex}"
            store.client_for_enqueue().enqueue(
                {
                    "workflow_name": "jobs-bench.publisher",
                    "queue_name": QUEUE,
                    "workflow_id": job_id,
                },
                events,
                EVENT_INTERVAL,
            )
            latencies: list[float] = []
            with httpx.stream(
                "GET", f"{base}/api/jobs/{job_id}/events", headers=headers, timeout=60
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data: ") and '"type":"tick"' in line:
                        sent = json.loads(line[len("data: ") :])["data"]["t"]
                        latencies.append(time.time() - sent)
                    elif line.startswith("event: end"):
                        break
            assert len(latencies) == events, f"{len(latencies)} of {events} events arrived"
            results.append(latencies)
        return results
    finally:
        store.close()
        for process in (worker, server):
            process.send_signal(signal.SIGTERM)
        for process in (worker, server):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


# -------------------------------------------------------------------------------------------
# Queue throughput
# -------------------------------------------------------------------------------------------


def jobs_per_second(env: dict[str, str], runs: int, jobs: int) -> list[float]:
    from pcm_ops.jobs import enqueue
    from pcm_ops.jobs.engine import JobEngine

    settings = _settings(env, jobs_queue_poll_seconds=0.1, executor_id="bench-throughput")
    engine = JobEngine(settings, _registry(settings), kind="worker")
    engine.start()
    rates = []
    try:
        store = engine.store()
        for _ in range(runs):
            started = time.perf_counter()
            ids = [enqueue("jobs-bench.noop", queue=QUEUE) for _ in range(jobs)]

            def all_done(ids: list[str] = ids) -> bool:
                succeeded = store.find(owner="jobs-bench", state="succeeded", limit=jobs)
                return set(ids) <= {job.id for job in succeeded}

            _wait(all_done, 600, "the jobs")
            rates.append(jobs / (time.perf_counter() - started))
    finally:
        engine.stop()
    return rates


# -------------------------------------------------------------------------------------------
# Main
# -------------------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def measure(backend: str, runs: int, events: int, jobs: int) -> dict[str, Any]:
    with database(backend) as env:
        _migrate(env)
        baseline = [statistics.median(insert_select_seconds(env, 200)) for _ in range(runs)]
        latency_runs = event_latencies(env, runs, events)
    with database(backend) as env:
        _migrate(env)
        loop_rates = [200 / sum(insert_select_seconds(env, 200)) for _ in range(runs)]
        rates = jobs_per_second(env, runs, jobs)
    p50 = statistics.median(_percentile(run, 0.5) for run in latency_runs)
    p99 = statistics.median(_percentile(run, 0.99) for run in latency_runs)
    base = statistics.median(baseline)
    rate = statistics.median(rates)
    loop_rate = statistics.median(loop_rates)
    return {
        "backend": backend,
        "latency_p50": p50,
        "latency_p99": p99,
        "baseline_roundtrip": base,
        "latency_ratio": p50 / base,
        "jobs_per_second": rate,
        "roundtrips_per_second": loop_rate,
        "throughput_ratio": rate / loop_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # bench/run.py passes every benchmark the same args
    if args.worker:
        run_worker_process()
        return
    if args.serve:
        run_server_process(args.serve)
        return

    from pcm_ops.__about__ import __version__

    backends = ["sqlite"] + (["postgresql"] if _postgres_url() else [])
    print(
        f"PCM-Ops {__version__}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {args.runs} runs, {args.events} events, {args.jobs} jobs"
    )
    if not _postgres_url():
        print("PostgreSQL skipped: set PCM_BENCH_POSTGRES_URL=postgresql://user@host/db")
    rows = [measure(backend, args.runs, args.events, args.jobs) for backend in backends]
    with database("sqlite") as env:
        _migrate(env)
        fast_poll = event_latencies(
            env, args.runs, args.events, {"PCM_JOBS_EVENT_POLL_SECONDS": "0.1"}
        )
    print()
    print(
        "| backend | event latency p50 | p99 | baseline INSERT+SELECT | p50 / baseline | "
        "jobs/s (1 no-op step) | INSERT+SELECT/s | jobs/s / round trips/s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['backend']} | {_ms(row['latency_p50'])} | {_ms(row['latency_p99'])} | "
            f"{_ms(row['baseline_roundtrip'])} | {row['latency_ratio']:.1f}x | "
            f"{row['jobs_per_second']:.1f} | {row['roundtrips_per_second']:.0f} | "
            f"{row['throughput_ratio']:.3f} |"
        )
    print()
    print(
        "SQLite with PCM_JOBS_EVENT_POLL_SECONDS=0.1 (default 0.5): event latency p50 "
        f"{_ms(statistics.median(_percentile(run, 0.5) for run in fast_poll))}, p99 "
        f"{_ms(statistics.median(_percentile(run, 0.99) for run in fast_poll))}"
    )


if __name__ == "__main__":
    main()
