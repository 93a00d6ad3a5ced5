"""Prometheus metrics at ``/metrics``: HTTP requests, plugin states, jobs, event streams,
and plugins' own.

Two registries are rendered together:

- the application's (``app.state.metrics.registry``): HTTP requests and the gauges that are
  read when ``/metrics`` is scraped (``on_scrape``), such as queue depth, which come from
  the database and so say the same on every API replica;
- the process's (:data:`PROCESS_REGISTRY`): counters and histograms of things that happen in
  this process, wherever it was started from (``pcm-ops serve``, ``pcm-ops worker``), such
  as AWS calls. A worker serves them with ``pcm-ops worker --metrics-port``.

A plugin declares its metrics with :func:`counter`, :func:`histogram` and :func:`gauge`
(asking twice for the same name returns the same metric, so module-level declarations and
re-imports are safe), and adds gauges computed from its tables with :func:`on_scrape` in its
startup hook::

    from pcm_ops import metrics

    CALLS = metrics.counter("pcm_example_calls_total", "Calls to Example by outcome",
                            ["outcome"])
    CALLS.labels("ok").inc()

    QUEUED = metrics.gauge("pcm_example_queued", "Example items waiting")

    @hookimpl
    async def pcm_ops_startup(app):
        async def count_queued(app):
            async with app.state.database.session() as session:
                QUEUED.set(await count(session))
        metrics.on_scrape(app, count_queued)

Keep labels bounded: a label's values must be few and known in advance (a status, an
operation, an account id), never an instance, execution or job id, a user name or an error
message. Names start with ``pcm_`` and the plugin's table prefix (``pcm_aws_sr_...``).

``/metrics`` is public by default (listed in ``PCM_PUBLIC_PATHS``); remove it from that
setting to require the ``core:metrics.read`` permission instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Depends as _Depends
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from starlette.types import Scope

router = APIRouter(include_in_schema=False)

logger = logging.getLogger("pcm_ops.metrics")

#: The registry of metrics counted in this process (AWS calls, ServiceNow calls, finished
#: executions); ``/metrics`` renders it after the application's.
PROCESS_REGISTRY = CollectorRegistry()

_declared: dict[str, Any] = {}
_declare_lock = threading.Lock()
_Metric = TypeVar("_Metric", Counter, Gauge, Histogram)

#: What an ``on_scrape`` callback is: an async function of the application.
ScrapeCallback = Callable[[Any], Awaitable[None]]


def _declare(
    kind: type[_Metric], name: str, documentation: str, labels: Sequence[str], **options: Any
) -> _Metric:
    with _declare_lock:
        existing = _declared.get(name)
        if existing is not None:
            if not isinstance(existing, kind) or tuple(existing._labelnames) != tuple(labels):
                raise ValueError(
                    f"metric {name!r} is already declared as a {type(existing).__name__} "
                    f"with labels {list(existing._labelnames)}"
                )
            return existing
        metric = kind(name, documentation, list(labels), registry=PROCESS_REGISTRY, **options)
        _declared[name] = metric
        return metric


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """A counter of this process (``name`` ending in ``_total``; the ``_total`` is kept).

    Declared once per process: asking again with the same name and labels returns it.

    :raises ValueError: the name is taken by a metric of another kind or other labels.
    """
    return _declare(Counter, name.removesuffix("_total"), documentation, labels)


def histogram(
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    buckets: Sequence[float] | None = None,
) -> Histogram:
    """A histogram of this process (durations in seconds: ``name`` ends in ``_seconds``).

    :param buckets: upper bounds; default Prometheus's (5 ms to 10 s).
    """
    options = {"buckets": tuple(buckets)} if buckets is not None else {}
    return _declare(Histogram, name, documentation, labels, **options)


def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
    """A gauge of this process; set it where the value changes or in an
    :func:`on_scrape` callback."""
    return _declare(Gauge, name, documentation, labels)


def on_scrape(app: Any, callback: ScrapeCallback) -> None:
    """Run ``callback(app)`` before each answer of this application's ``/metrics``: to set
    gauges from the database. A callback that raises is logged and skipped; the others and
    the answer go on (the gauges keep their previous values)."""
    app.state.metrics.scrape_callbacks.append(callback)


class _PluginStates:
    """Reports how many plugins are in each state, read when scraped."""

    def __init__(self, registry: Any) -> None:
        self.plugin_registry = registry

    def collect(self) -> Any:
        family = GaugeMetricFamily("pcm_plugins", "Installed plugins by state", labels=["state"])
        counts: dict[str, int] = {}
        for record in self.plugin_registry.records:
            counts[record.state.value] = counts.get(record.state.value, 0) + 1
        for state, count in sorted(counts.items()):
            family.add_metric([state], count)
        yield family


class Metrics:
    def __init__(self, plugin_registry: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pcm_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "pcm_http_request_duration_seconds",
            "Time to the response's first byte, by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(_PluginStates(plugin_registry))
        self.templates = _RouteTemplates()
        # The labelled children of `duration` and `requests`, kept: `labels()` validates
        # and locks on every call, and each request needs one of each. (No series of these
        # two is ever removed.)
        self._durations: dict[tuple[str, str], Any] = {}
        self._counts: dict[tuple[str, str, int], Any] = {}
        self.scrape_callbacks: list[ScrapeCallback] = [_core_gauges]
        self._refresh_lock = asyncio.Lock()
        self._refreshed_at: float | None = None
        self.jobs_queued = Gauge(
            "pcm_jobs_queued",
            "Jobs waiting on their queue to start, by queue",
            ["queue"],
            registry=self.registry,
        )
        self.jobs_running = Gauge(
            "pcm_jobs_running",
            "Jobs started and not finished (or waiting for recovery), by queue",
            ["queue"],
            registry=self.registry,
        )
        self.jobs_oldest_queued = Gauge(
            "pcm_jobs_oldest_queued_seconds",
            "Age of the oldest job still waiting on its queue (0 when none waits), by queue",
            ["queue"],
            registry=self.registry,
        )
        self.jobs_start_delay = Gauge(
            "pcm_jobs_start_delay_seconds",
            "Longest wait between enqueueing and starting among the jobs started in the last "
            "5 minutes, by queue",
            ["queue"],
            registry=self.registry,
        )
        self.executors_alive = Gauge(
            "pcm_job_executors_alive",
            "Job executors whose heartbeat is fresh (within 3 heartbeat intervals), by kind "
            "(server, worker); only executors that run jobs",
            ["kind"],
            registry=self.registry,
        )
        self.event_stream_clients = Gauge(
            "pcm_event_stream_clients",
            "Server-Sent Event streams open to clients in this process",
            registry=self.registry,
        )
        self.scrape_errors = Counter(
            "pcm_metrics_scrape_errors",
            "on_scrape callbacks that raised, by callback",
            ["callback"],
            registry=self.registry,
        )

    def response_started(self, scope: Scope, started: float, route: str | None = None) -> str:
        """Record the time from ``started`` (``time.perf_counter()``) to the first byte of
        the response to ``scope``; returns the template of the route that served it
        (``route`` when given, else looked up)."""
        if route is None:
            route = self.templates.of(scope)
        key = (scope["method"], route)
        histogram = self._durations.get(key)
        if histogram is None:
            histogram = self._durations[key] = self.duration.labels(*key)
        histogram.observe(time.perf_counter() - started)
        return route

    def request_done(self, scope: Scope, route: str | None, status: int) -> None:
        """Count the request ``scope``, answered with ``status`` (500 when the application
        raised before answering) by ``route`` (``None``: looked up now)."""
        if route is None:
            route = self.templates.of(scope)
        key = (scope["method"], route, status)
        counter = self._counts.get(key)
        if counter is None:
            counter = self._counts[key] = self.requests.labels(scope["method"], route, str(status))
        counter.inc()

    async def refresh(self, app: Any) -> None:
        """Run the scrape callbacks; one that fails leaves its gauges as they were.

        At most once per ``metrics_refresh_seconds`` (setting; 0: every scrape): the
        callbacks read the database, and ``/metrics`` is public by default, so a client
        that scrapes in a loop costs one refresh per interval, not one per request.
        Concurrent scrapes share one refresh.
        """
        settings = getattr(app.state, "settings", None)
        interval = float(getattr(settings, "metrics_refresh_seconds", 0.0) or 0.0)
        async with self._refresh_lock:
            now = time.monotonic()
            if self._refreshed_at is not None and now - self._refreshed_at < interval:
                return
            await self._run_callbacks(app)
            self._refreshed_at = time.monotonic()

    async def _run_callbacks(self, app: Any) -> None:
        for callback in list(self.scrape_callbacks):
            try:
                await callback(app)
            except Exception:
                name = getattr(callback, "__qualname__", repr(callback))
                logger.warning("metrics callback %s failed", name, exc_info=True)
                self.scrape_errors.labels(name).inc()


#: How far back ``pcm_jobs_start_delay_seconds`` looks.
START_DELAY_WINDOW = timedelta(minutes=5)


async def _core_gauges(app: Any) -> None:
    """Queue depth, job start delays, live executors and open event streams."""
    import anyio.to_thread

    metrics: Metrics = app.state.metrics
    hub = getattr(app.state, "job_event_hub", None)
    subscriptions = getattr(hub, "_subscriptions", None) or {}
    metrics.event_stream_clients.set(sum(len(found) for found in subscriptions.values()))
    await _executor_gauges(app, metrics)
    from pcm_ops.jobs.engine import running_engine

    engine = running_engine()
    if engine is None:
        return
    await anyio.to_thread.run_sync(_job_gauges, engine, metrics)


async def _executor_gauges(app: Any, metrics: Metrics) -> None:
    from sqlalchemy import func, select

    from pcm_ops.jobs.models import JobExecutor, table_of

    settings = app.state.settings
    fresh_after = datetime.now(UTC) - timedelta(seconds=3 * settings.jobs_heartbeat_seconds)
    table = table_of(JobExecutor)
    statement = (
        select(table.c.kind, func.count())
        .where(table.c.stopped_at.is_(None))
        .where(table.c.executes.is_(True))
        .where(table.c.heartbeat_at >= fresh_after)
        .group_by(table.c.kind)
    )
    async with app.state.database.engine.connect() as connection:
        counts = dict((await connection.execute(statement)).all())
    for kind in ("server", "worker"):
        metrics.executors_alive.labels(kind).set(counts.get(kind, 0))


def _job_gauges(engine: Any, metrics: Metrics) -> None:
    store = engine.store()
    client = store.client()
    queues = list(engine.definitions.queues)
    queued: dict[str, int] = dict.fromkeys(queues, 0)
    running: dict[str, int] = dict.fromkeys(queues, 0)
    oldest: dict[str, float] = dict.fromkeys(queues, 0.0)
    delay: dict[str, float] = dict.fromkeys(queues, 0.0)
    now_ms = time.time() * 1000
    if client is not None:
        active = store._call(  # the store's guard: no tables yet means no jobs
            "list_queued_workflows", load_input=False
        )
        for status in active or []:
            queue = status.queue_name or "(none)"
            if status.status in ("ENQUEUED", "DELAYED"):
                queued[queue] = queued.get(queue, 0) + 1
                if status.created_at:
                    age = max(0.0, (now_ms - status.created_at) / 1000)
                    oldest[queue] = max(oldest.get(queue, 0.0), age)
            elif status.status == "PENDING":
                running[queue] = running.get(queue, 0) + 1
        since = datetime.now(UTC) - START_DELAY_WINDOW
        started = store._call(
            "list_workflows",
            dequeued_after=since.isoformat(),
            load_input=False,
            load_output=False,
        )
        for status in started or []:
            if status.queue_name and status.dequeued_at and status.created_at:
                waited = max(0.0, (status.dequeued_at - status.created_at) / 1000)
                queue = status.queue_name
                delay[queue] = max(delay.get(queue, 0.0), waited)
    for queue, count in queued.items():
        metrics.jobs_queued.labels(queue).set(count)
    for queue, count in running.items():
        metrics.jobs_running.labels(queue).set(count)
    for queue, age in oldest.items():
        metrics.jobs_oldest_queued.labels(queue).set(age)
    for queue, waited in delay.items():
        metrics.jobs_start_delay.labels(queue).set(waited)


class _RouteTemplates:
    """The template each route is served at (``/api/tools/aws/x/{id}``), looked up from the
    route the router chose, which it leaves in the scope: ``scope["route"]`` for FastAPI
    routes, ``scope["endpoint"]`` for others (a mount's application). A route included
    under several prefixes has several templates; only then is the path matched, against
    those few. Built on first use and again when routes are added."""

    def __init__(self) -> None:
        self.signature: tuple[int, int] | None = None
        self.by_id: dict[int, list[tuple[Any, str, tuple[str, ...]]]] = {}

    def build(self, app: Any) -> None:
        from starlette.routing import Mount, compile_path

        from pcm_ops.routes import effective_routes

        by_id: dict[int, list[tuple[Any, str, tuple[str, ...]]]] = {}
        for route in effective_routes(app.routes):
            original = getattr(route.route, "original_route", route.route)
            template = route.path
            if isinstance(original, Mount):
                template = template.rstrip("/") + "/{path}"
            entry = (compile_path(template)[0], template, route.methods)
            keys = {id(original), id(route.route)}
            endpoint = getattr(original, "app", None) if isinstance(original, Mount) else None
            if endpoint is not None:
                keys.add(id(endpoint))
            elif getattr(original, "endpoint", None) is not None and not hasattr(
                original, "dependant"
            ):
                keys.add(id(original.endpoint))  # a plain Starlette route
            for key in keys:
                by_id.setdefault(key, []).append(entry)
        self.by_id = by_id
        self.signature = (id(app.routes), len(app.routes))

    def of(self, scope: Scope) -> str:
        """The template of the route that served ``scope`` (``/api/x/{id}``), or
        ``unmatched`` (no route: a 404 or a redirect; or a 405, the route not serving that
        method)."""
        app = scope["app"]
        if self.signature != (id(app.routes), len(app.routes)):
            self.build(app)
        chosen = scope.get("route")
        if chosen is None:
            chosen = scope.get("endpoint")
        if chosen is None:
            return "unmatched"
        entries = self.by_id.get(id(chosen))
        if not entries:
            return "unmatched"
        method = scope["method"]
        if len(entries) == 1:
            _, template, methods = entries[0]
            return template if method in methods or "*" in methods else "unmatched"
        path = scope["path"]
        for pattern, template, methods in entries:
            if pattern.match(path) and (method in methods or "*" in methods):
                return template
        return "unmatched"


async def _metrics_access(request: Request) -> None:
    if request.url.path in request.app.state.settings.public_paths:
        return
    from pcm_ops.security.auth import authenticate

    principal = await authenticate(request)
    if principal is None or not principal.can("core:metrics.read"):
        raise HTTPException(status_code=403, detail="permission 'core:metrics.read' is required")


_metrics_access.pcm_permission = "core:metrics.read"  # type: ignore[attr-defined]


@router.get("/metrics", dependencies=[_Depends(_metrics_access)])
async def metrics(request: Request) -> Response:
    from prometheus_client import generate_latest

    metrics: Metrics = request.app.state.metrics
    await metrics.refresh(request.app)
    body = generate_latest(metrics.registry) + generate_latest(PROCESS_REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
