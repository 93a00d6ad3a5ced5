"""Benchmarks of request routing: latency flat in plugin count, and /healthz throughput.

    python bench/routing_bench.py [--runs 3] [--requests 2000] [--seconds 3]
                                  [--sections routing,healthz] [--path /healthz]

What is measured:

* **routing** (``--sections routing``): PCM-Ops apps with N = 1, 10 and 50 synthetic
  plugins of 20 API routes each (half of them with a path parameter), built by
  ``create_app`` exactly as ``pcm-ops serve`` builds one. Each request is one in-process
  ASGI call (no socket, no client library): the p50 latency of a ``GET`` of the *last*
  plugin's last route (answered 401 by the app-wide authentication, after routing chose the
  route: the same work for every N), and of a ``GET`` of an unknown path (404). Baseline:
  the same request against the app with N = 1, measured in the same run; the ratio is
  ``p50(N) / p50(1)``.
* **healthz** (``--sections healthz``): ``GET /healthz`` over real HTTP with 8 kept-alive
  connections for ``--seconds``, against uvicorn serving the PCM-Ops app (no plugin,
  ``pcm-ops serve``'s log configuration with access lines at ``info``, written to
  /dev/null) and, as baseline, a bare FastAPI app with one ``/healthz`` route under the
  same uvicorn and options (uvicorn's own log configuration, access lines at ``info``);
  the bare app again with the garbage collector set up as a started PCM-Ops process sets
  it up (:mod:`pcm_ops.memory`: start-up frozen, young collections every 10,000
  allocations), to tell that from the rest; and the PCM-Ops app again with
  ``jobs_execute_in_server`` off (the job engine's threads
  in a ``pcm-ops worker`` process instead: under load, each of them taking the interpreter
  lock back when it wakes costs the request loop).
  PCM-Ops answers a public ``/healthz`` in its outermost layer, before routing; ``--path
  '/healthz?routed=1'`` makes it route the probe like any other request (the bare app
  answers both alike), which measures what a routed request costs.
  Each server is its own process; the client is another (asyncio, raw HTTP/1.1). Ratio:
  PCM-Ops req/s / bare req/s. Also the server process's CPU time per request (user +
  system, from ``/proc``; Linux only), which other load on the machine changes less than
  the rate: the ratio bare / PCM-Ops of it is what the rate ratio would be if the server
  were the only bottleneck.

Every measurement runs ``--runs`` times and the medians are reported. Everything listens
on 127.0.0.1 only and ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from procstat import process_cpu_seconds  # bench/procstat.py, beside this script

ROUTES_PER_PLUGIN = 20
PLUGIN_COUNTS = (1, 10, 50)
CONNECTIONS = 8
MODULE_PREFIX = "pcm_routing_bench_plugin_"


def _plugin_module(index: int) -> types.ModuleType:
    """A plugin module (registered in ``sys.modules``) with 20 API routes."""
    from fastapi import APIRouter

    from pcm_ops import hookimpl
    from pcm_ops.plugin import Permission, PluginMetadata
    from pcm_ops.security import require

    plugin_id = f"bench-{index}"
    module = types.ModuleType(f"{MODULE_PREFIX}{index}")
    module.metadata = PluginMetadata(  # type: ignore[attr-defined]
        id=plugin_id, display_name=f"Bench {index}", provider="bench", tool=f"tool{index}"
    )

    @hookimpl
    def pcm_ops_permissions() -> list[Permission]:
        return [Permission(f"{plugin_id}:read", "Read", ("admin",))]

    @hookimpl
    def pcm_ops_api_routers() -> list[APIRouter]:
        router = APIRouter(dependencies=[require(f"{plugin_id}:read")])
        for number in range(ROUTES_PER_PLUGIN):
            path = f"/things{number}/{{item_id}}" if number % 2 else f"/things{number}"

            async def endpoint() -> dict[str, int]:
                return {"ok": 1}

            router.add_api_route(path, endpoint, methods=["GET"], name=f"r{number}")
        return [router]

    module.pcm_ops_permissions = pcm_ops_permissions  # type: ignore[attr-defined]
    module.pcm_ops_api_routers = pcm_ops_api_routers  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    return module


def build_app(plugins: int, data_dir: Path, **settings: Any) -> Any:
    from pcm_ops.app import create_app
    from pcm_ops.discovery import ENTRY_POINT_GROUP, discover
    from pcm_ops.settings import load_settings

    entry_points = [
        EntryPoint(f"bench-{i}", _plugin_module(i).__name__, ENTRY_POINT_GROUP)
        for i in range(plugins)
    ]
    loaded = load_settings(
        None,
        data_dir=data_dir,
        plugins=[ep.name for ep in entry_points],
        log_level="warning",
        **settings,
    )
    registry = discover(loaded, entry_points_=entry_points)
    failed = [r.id for r in registry.records if r.state.value != "loaded"]
    if failed:
        raise SystemExit(f"bench plugins failed to load: {failed}")
    return create_app(loaded, registry=registry)


async def _call(app: Any, path: str) -> int:
    """One in-process ASGI request; returns the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8500),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _p50(app: Any, path: str, requests: int, expected: int) -> float:
    for _ in range(50):  # warm-up: lazily built route tables, caches
        status = await _call(app, path)
    if status != expected:
        raise SystemExit(f"GET {path} answered {status}, expected {expected}")
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        await _call(app, path)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def routing(runs: int, requests: int) -> None:
    apps = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in PLUGIN_COUNTS:
            apps[count] = build_app(count, Path(tmp) / f"n{count}")
        results: dict[tuple[int, str], list[float]] = {}
        for _ in range(runs):
            for count, app in apps.items():
                last = f"/api/tools/bench/tool{count - 1}/things{ROUTES_PER_PLUGIN - 1}/42"
                for kind, path, expected in (
                    ("last plugin's route", last, 401),
                    ("unknown path (404)", "/no/such/path", 404),
                ):
                    p50 = asyncio.run(_p50(app, path, requests, expected))
                    results.setdefault((count, kind), []).append(p50)
    print(
        f"routing: in-process ASGI, {requests} requests per measurement, "
        f"median of {runs} runs (spread min-max of the run medians)"
    )
    for kind in ("last plugin's route", "unknown path (404)"):
        base = statistics.median(results[(1, kind)])
        for count in PLUGIN_COUNTS:
            values = results[(count, kind)]
            p50 = statistics.median(values)
            print(
                f"  {kind:22} N={count:>2} x {ROUTES_PER_PLUGIN} routes: p50 {p50 * 1e6:7.1f} us "
                f"({min(values) * 1e6:.1f}-{max(values) * 1e6:.1f})  ratio vs N=1: "
                f"{p50 / base:.2f}x"
            )


# --- /healthz over HTTP ---------------------------------------------------------------


def _serve(kind: str, port: int) -> None:
    """Child process: serve the PCM-Ops app or the bare FastAPI app on ``port``."""
    import uvicorn

    if kind in ("pcm", "pcm-api"):
        from pcm_ops.logs import uvicorn_log_config

        # pcm-api: the job engine runs in a worker (`pcm-ops worker`), not in the server.
        app = build_app(
            0,
            Path(tempfile.mkdtemp(prefix="pcm-routing-bench-")),
            jobs_execute_in_server=kind == "pcm",
        )
        log_config: Any = uvicorn_log_config()
    else:
        from contextlib import asynccontextmanager

        from fastapi import FastAPI

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> Any:
            if kind == "bare-gc":  # the collector set up as pcm_ops.memory sets it up
                from pcm_ops.memory import freeze_and_collect_less_often

                freeze_and_collect_less_often()
            yield

        app = FastAPI(lifespan=lifespan)

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        log_config = uvicorn.config.LOGGING_CONFIG
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="info", log_config=log_config, lifespan="on"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _load(port: int, seconds: float, path: str = "/healthz") -> tuple[int, float]:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    deadline = time.perf_counter() + seconds
    done = 0

    async def connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"/healthz answered {head.splitlines()[0]!r}")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return done, time.perf_counter() - started


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start within 30 s")


def healthz(runs: int, seconds: float, path: str = "/healthz") -> None:
    rates: dict[str, list[float]] = {kind: [] for kind in SERVERS}
    cpu_per_request: dict[str, list[float]] = {kind: [] for kind in SERVERS}
    for _ in range(runs):
        for kind in SERVERS:
            port = _free_port()
            process = subprocess.Popen(
                [sys.executable, __file__, "--serve", kind, "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for(port, process)
                asyncio.run(_load(port, 0.5, path))  # warm-up
                cpu_before = process_cpu_seconds(process.pid)
                done, elapsed = asyncio.run(_load(port, seconds, path))
                cpu_after = process_cpu_seconds(process.pid)
                rates[kind].append(done / elapsed)
                if cpu_before is not None and cpu_after is not None:
                    cpu_per_request[kind].append((cpu_after - cpu_before) / done)
            finally:
                process.terminate()
                process.wait(15)
    bare = statistics.median(rates["bare"])
    print(
        f"healthz: GET {path}, {CONNECTIONS} connections, {seconds:g} s per measurement, "
        f"median of {runs} runs (spread min-max)"
    )
    for kind, label in SERVERS.items():
        rate = statistics.median(rates[kind])
        ratio = "" if kind == "bare" else f"  ratio to bare: {rate / bare:.2f}x"
        print(
            f"  {label + ':':36} {rate:8.0f} req/s "
            f"({min(rates[kind]):.0f}-{max(rates[kind]):.0f}){ratio}"
        )
    if all(cpu_per_request.values()):
        bare_cpu = statistics.median(cpu_per_request["bare"])
        print("  server CPU per request (user + system), median (spread min-max):")
        for kind, label in SERVERS.items():
            values = [value * 1e6 for value in cpu_per_request[kind]]
            cpu = statistics.median(cpu_per_request[kind])
            ratio = "" if kind == "bare" else f"  ratio bare / it: {bare_cpu / cpu:.2f}x"
            print(
                f"    {label + ':':34} {statistics.median(values):6.0f} us "
                f"({min(values):.0f}-{max(values):.0f}){ratio}"
            )


#: The servers of the healthz section, by ``--serve`` kind.
SERVERS = {
    "bare": "bare FastAPI",
    "bare-gc": "bare FastAPI, PCM-Ops' gc set-up",
    "pcm": "PCM-Ops",
    "pcm-api": "PCM-Ops, job engine in a worker",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--sections", default="routing,healthz")
    parser.add_argument(
        "--path",
        default="/healthz",
        help="what the healthz section requests: '/healthz?routed=1' makes PCM-Ops route "
        "the probe instead of answering it in its outermost layer",
    )
    parser.add_argument("--serve", choices=tuple(SERVERS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()
    if args.serve:
        _serve(args.serve, args.port)
        return
    from pcm_ops.__about__ import __version__

    print(f"Python {platform.python_version()}, pcm-ops-core {__version__}, pid {os.getpid()}")
    sections = {name.strip() for name in args.sections.split(",")}
    if "routing" in sections:
        routing(args.runs, args.requests)
    if "healthz" in sections:
        healthz(args.runs, args.seconds, args.path)


if __name__ == "__main__":
    main()
