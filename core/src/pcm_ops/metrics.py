"""Prometheus metrics at ``/metrics``: HTTP requests, plugin states, and plugins' own.

Each application has its own ``CollectorRegistry`` (``app.state.metrics.registry``); a
plugin adds its metrics in its startup hook::

    @hookimpl
    async def pcm_ops_startup(app):
        from prometheus_client import Counter
        app.state.my_calls = Counter("aws_api_calls", "AWS API calls", ["service"],
                                     registry=app.state.metrics.registry)

``/metrics`` is public by default (listed in ``PCM_PUBLIC_PATHS``); remove it from that
setting to require the ``core:metrics.read`` permission instead.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Depends as _Depends
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

router = APIRouter(include_in_schema=False)


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
        """The template of the route that served ``scope``, or ``unmatched``."""
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


def _route_template(metrics: Metrics, scope: Scope) -> str:
    """The template of the route that served ``scope`` (``/api/x/{id}``), or ``unmatched``
    (no route: a 404 or a redirect; or a 405, the route not serving that method)."""
    return metrics.templates.of(scope)


class MetricsMiddleware:
    """Counts requests by route *template* (never the raw path: ids would explode the
    number of series)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        route: str | None = None

        async def record_status(message: Message) -> None:
            nonlocal status, route
            if message["type"] == "http.response.start":
                status = message["status"]
                route = _route_template(self.metrics, scope)
                self.metrics.duration.labels(scope["method"], route).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            if route is None:
                route = _route_template(self.metrics, scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()


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

    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
