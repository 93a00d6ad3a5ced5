"""Mounting plugin routers under their prefixes, refusing escapes and collisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from starlette.routing import BaseRoute

from pcm_ops.registry import PluginRecord, PluginRegistry, PluginState
from pcm_ops.routes import effective_routes


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
    return [
        (method, route.path)
        for route in effective_routes(routes, prefix)
        for method in route.methods
    ]


def _plugin_available(record: PluginRecord) -> Any:
    """A dependency that answers 503 once the plugin has failed (e.g. in its startup hook)."""

    async def dependency() -> None:
        if record.state is not PluginState.LOADED:
            raise HTTPException(
                status_code=503,
                detail=f"plugin {record.id!r} is unavailable: {record.error}",
            )

    return Depends(dependency)


def _undeclared_permissions(app: FastAPI, routers: Sequence[Any]) -> str | None:
    """Why some route may not be mounted: it declares no permission, or an unknown one."""
    from pcm_ops.security.auth import declared_permission

    known = getattr(app.state, "permissions", None)
    for router in routers:
        for route in effective_routes(getattr(router, "routes", [])):
            if not route.is_api:
                continue
            permission = declared_permission(route)
            where = f"route {route.methods[0]} {route.path}"
            if permission is None:
                return (
                    f"{where} declares no permission; add "
                    "`dependencies=[pcm_ops.security.require('<plugin-id>:<action>')]`"
                )
            if known is not None and permission not in known.permissions:
                return (
                    f"{where} requires unknown permission {permission!r}; "
                    "define it in pcm_ops_permissions"
                )
    return None


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
    problem = _undeclared_permissions(app, routers)
    if problem:
        registry.fail(record, problem)
        return False
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
