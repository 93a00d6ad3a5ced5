"""The routes an application or router really serves, whatever FastAPI version is installed.

FastAPI up to 0.15x copies included routes into ``app.routes``; newer releases keep
included routers as nodes and compute each route's effective path and dependencies on
demand (``fastapi.routing.iter_route_contexts``). Core needs the effective view to enforce
plugin prefixes, refuse collisions and check that every route declares a permission.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Mount, WebSocketRoute

_iter_route_contexts: Any
try:
    from fastapi.routing import iter_route_contexts as _iter_route_contexts
except ImportError:  # FastAPI before included routers became nodes
    _iter_route_contexts = None


@dataclass(frozen=True)
class EffectiveRoute:
    """One served route: its full path, HTTP methods (``WEBSOCKET``/``*`` for others)."""

    path: str
    methods: tuple[str, ...]
    dependant: Any
    include_in_schema: bool
    route: Any

    @property
    def is_api(self) -> bool:
        return self.dependant is not None


def effective_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[EffectiveRoute]:
    """Every route in ``routes`` (``app.routes`` or ``router.routes``), included ones too."""
    items: Any = routes if _iter_route_contexts is None else _iter_route_contexts(routes)
    for item in items:
        original = getattr(item, "original_route", item)
        path = getattr(item, "path", None)
        if path is None:
            continue
        if isinstance(original, Mount):
            methods: tuple[str, ...] = ("*",)
        elif isinstance(original, WebSocketRoute) or type(original).__name__ == (
            "APIWebSocketRoute"
        ):
            methods = ("WEBSOCKET",)
        else:
            methods = tuple(sorted(getattr(item, "methods", None) or {"GET"}))
        yield EffectiveRoute(
            path=prefix + path,
            methods=methods,
            dependant=getattr(item, "dependant", None),
            include_in_schema=bool(getattr(item, "include_in_schema", False)),
            route=item,
        )
