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
        self.templates: list[tuple[Any, str, tuple[str, ...]]] | None = None


def _route_template(metrics: Metrics, scope: Scope) -> str:
    """The template of the route that served ``scope`` (``/api/x/{id}``), or ``unmatched``."""
    if metrics.templates is None:
        from starlette.routing import compile_path

        from pcm_ops.routes import effective_routes

        metrics.templates = [
            (compile_path(route.path)[0], route.path, route.methods)
            for route in effective_routes(scope["app"].routes)
        ]
    path = scope["path"]
    for pattern, template, methods in metrics.templates:
        if pattern.match(path) and (scope["method"] in methods or "*" in methods):
            return template
    return "unmatched"


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
        status = {"code": 500}

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                self.metrics.duration.labels(
                    scope["method"], _route_template(self.metrics, scope)
                ).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_template(self.metrics, scope)
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()


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
