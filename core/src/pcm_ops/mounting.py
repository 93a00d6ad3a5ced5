"""Mounting plugin routers under their prefixes, refusing escapes and collisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount, Route

from pcm_ops.registry import PluginRecord, PluginRegistry, PluginState


@dataclass
class RouteTable:
    """Every (method, path) served so far and who serves it: ``core`` or a plugin id."""

    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def of(cls, app: FastAPI) -> RouteTable:
        table: RouteTable | None = getattr(app.state, "route_table", None)
        if table is None:
            table = cls()
            for method, path in _route_keys(app.routes, ""):
                table.owners[(method, path)] = "core"
            app.state.route_table = table
        return table


def _route_keys(routes: Sequence[BaseRoute], prefix: str) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or {"GET"}):
                keys.append((method, prefix + route.path))
        elif isinstance(route, APIWebSocketRoute):
            keys.append(("WEBSOCKET", prefix + route.path))
        elif isinstance(route, Mount):
            keys.append(("*", prefix + route.path))
    return keys


def _plugin_available(record: PluginRecord) -> Any:
    """A dependency that answers 503 once the plugin has failed (e.g. in its startup hook)."""

    async def dependency() -> None:
        if record.state is not PluginState.LOADED:
            raise HTTPException(
                status_code=503,
                detail=f"plugin {record.id!r} is unavailable: {record.error}",
            )

    return Depends(dependency)


def mount_plugin_routers(
    app: FastAPI,
    registry: PluginRegistry,
    record: PluginRecord,
    routers: Sequence[Any],
    prefix: str,
    *,
    include_in_schema: bool = True,
) -> bool:
    """Mount a plugin's routers under ``prefix``; on a refusal mark the plugin failed.

    A router whose own ``prefix`` starts with ``/api/`` or ``/tools/`` is taken as absolute
    and must lie under ``prefix``; any other router is mounted under ``prefix``. Nothing of
    the plugin is mounted when one route is refused. Returns whether the routers were
    mounted.
    """
    table = RouteTable.of(app)
    planned: list[tuple[APIRouter, str]] = []
    keys: list[tuple[str, str]] = []
    for router in routers:
        if not isinstance(router, APIRouter):
            registry.fail(record, f"returned {type(router).__name__}, not a fastapi.APIRouter")
            return False
        absolute = router.prefix.startswith(("/api/", "/tools/"))
        mount_prefix = "" if absolute else prefix
        for method, path in _route_keys(router.routes, mount_prefix):
            if not (path == prefix or path.startswith(prefix + "/")):
                registry.fail(
                    record,
                    f"route {method} {path} is outside its prefix {prefix}/; "
                    "declare paths relative to the prefix",
                )
                return False
            owner = table.owners.get((method, path))
            if owner is None and method != "*":
                owner = table.owners.get(("*", path))
            if owner is not None or (method, path) in keys:
                other = owner or record.id
                registry.fail(
                    record,
                    f"route {method} {path} collides with the same route of "
                    f"{'core' if other == 'core' else 'plugin ' + repr(other)}",
                )
                return False
            keys.append((method, path))
        planned.append((router, mount_prefix))
    tag = record.metadata.display_name if record.metadata else record.id
    for router, mount_prefix in planned:
        app.include_router(
            router,
            prefix=mount_prefix,
            tags=[tag],
            dependencies=[_plugin_available(record)],
            include_in_schema=include_in_schema,
        )
    for key in keys:
        table.owners[key] = record.id
        record.routes.append(f"{key[0]} {key[1]}")
    return True
