"""Wiring the web UI into the application: static files, templates, plugin pages, errors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from pcm_ops.mounting import RouteTable, mount_plugin_routers
from pcm_ops.plugin import NavEntry, WebPages
from pcm_ops.registry import PluginRecord, PluginRegistry
from pcm_ops.settings import Settings
from pcm_ops.web.errors import install_error_handlers
from pcm_ops.web.nav import build_navigation, page_href
from pcm_ops.web.templating import PluginPages, UiSettings, WebState, build_environment

__all__ = ["CORE_STATIC", "setup_web"]

logger = logging.getLogger("pcm_ops.web")

#: Core's static folder (``pcm_ops/static``: ``css/``, ``js/``, ``img/`` and the npm
#: packages vendored into ``vendor/`` at build time), served at ``/static``.
CORE_STATIC = Path(str(files("pcm_ops") / "static"))


def setup_web(app: FastAPI, settings: Settings, registry: PluginRegistry) -> None:
    """Add the web UI to ``app``: called by :func:`pcm_ops.app.create_app` once the API
    routers are mounted.

    Mounts core's static files at ``/static`` and core's pages (``/``, ``/plugins``,
    ``/tokens``, ``/login``); calls
    every plugin's ``pcm_ops_web_pages`` hook and mounts its page routers under
    ``/tools/<provider>/<tool>`` and its static folder at ``/tools/<provider>/<tool>/static``;
    builds the one Jinja2 environment (core's templates and each plugin's under
    ``"<plugin-id>/"``) and the navigation; installs the error pages. Stores a
    :class:`~pcm_ops.web.templating.WebState` on ``app.state.web``. (The flash cookie is
    written by ``pcm_ops.middleware.CoreMiddleware``, which ``create_app`` adds.)

    A plugin whose pages cannot be mounted (a bad return value, a missing folder, a route
    outside its prefix or colliding with another) is marked failed, naming the problem, and
    contributes nothing to the UI.
    """
    from pcm_ops.web.login import router as login_pages
    from pcm_ops.web.pages import router as core_pages
    from pcm_ops.web.tokens import router as token_pages

    app.include_router(core_pages)
    app.include_router(login_pages)
    app.include_router(token_pages)
    app.mount("/static", StaticFiles(directory=CORE_STATIC), name="static")
    table = RouteTable.of(app)
    for pages in (core_pages, login_pages, token_pages):
        for route in pages.routes:
            for method in getattr(route, "methods", None) or ("GET",):
                table.owners.setdefault((method, getattr(route, "path", "")), "core")
    table.owners.setdefault(("*", "/static"), "core")

    plugins: dict[str, PluginPages] = {}
    templates: dict[str, Path] = {}
    nav_entries: list[tuple[PluginRecord, NavEntry]] = []
    for record, pages in registry.call_each("pcm_ops_web_pages", settings=settings):
        mounted = _mount_plugin_pages(app, registry, record, pages)
        if mounted is None:
            continue
        plugins[record.id] = mounted
        if pages.templates is not None:
            templates[record.id] = Path(pages.templates)
        nav_entries.extend((record, entry) for entry in pages.nav)

    app.state.web = WebState(
        templates=build_environment(templates),
        settings=UiSettings.of(settings),
        nav=build_navigation(nav_entries),
        plugins=plugins,
    )
    install_error_handlers(app)


def _problem_with(pages: object) -> str | None:
    """What is wrong with a ``pcm_ops_web_pages`` return value, or ``None``."""
    if not isinstance(pages, WebPages):
        return (
            f"hook pcm_ops_web_pages returned {type(pages).__name__}, not pcm_ops.plugin.WebPages"
        )
    for name in ("templates", "static"):
        folder = getattr(pages, name)
        if folder is not None and not Path(folder).is_dir():
            return f"hook pcm_ops_web_pages: its {name} folder {folder} is not a directory"
    for entry in pages.nav:
        if not isinstance(entry, NavEntry):
            return (
                f"hook pcm_ops_web_pages: nav holds {type(entry).__name__}, "
                "not pcm_ops.plugin.NavEntry"
            )
    return None


def _mount_plugin_pages(
    app: FastAPI, registry: PluginRegistry, record: PluginRecord, pages: object
) -> PluginPages | None:
    """Mount one plugin's page routers and static folder; ``None`` if it was refused."""
    assert record.metadata is not None
    prefix = record.metadata.page_prefix
    problem = _problem_with(pages)
    if problem is not None:
        registry.fail(record, problem)
        return None
    assert isinstance(pages, WebPages)
    first_route = len(app.router.routes)
    if not mount_plugin_routers(
        app, registry, record, pages.routers, prefix, include_in_schema=False
    ):
        return None
    mounted = PluginPages(record=record, index_href=_index_href(record, pages))
    if pages.static is not None:
        static_prefix = f"{prefix}/static"
        if not _mount_static(app, registry, record, Path(pages.static), static_prefix, first_route):
            return None
        mounted.static_prefix = static_prefix
    return mounted


def _mount_static(
    app: FastAPI,
    registry: PluginRegistry,
    record: PluginRecord,
    folder: Path,
    static_prefix: str,
    position: int,
) -> bool:
    """Serve ``folder`` at ``static_prefix``, ahead of the plugin's own page routes."""
    table = RouteTable.of(app)
    for (method, path), owner in table.owners.items():
        if path == static_prefix or path.startswith(static_prefix + "/"):
            who = "core" if owner == "core" else f"plugin {owner!r}"
            registry.fail(
                record,
                f"its static folder at {static_prefix}/ collides with route {method} {path} "
                f"of {who}; rename that route or drop the static folder",
            )
            return False
    mount = Mount(static_prefix, app=StaticFiles(directory=folder), name=f"{record.id}:static")
    routes: list[BaseRoute] = app.router.routes
    routes.insert(position, mount)
    table.owners[("*", static_prefix)] = record.id
    record.routes.append(f"GET {static_prefix}/{{path}}")
    return True


def _index_href(record: PluginRecord, pages: WebPages) -> str | None:
    """Where the landing page links to: the plugin's page root when it serves one, else
    its first navigation entry, else nowhere."""
    assert record.metadata is not None
    prefix = record.metadata.page_prefix
    if {f"GET {prefix}", f"GET {prefix}/"} & set(record.routes):
        return page_href(prefix)
    entries: Sequence[NavEntry] = sorted(pages.nav, key=lambda e: (e.order, e.label))
    return page_href(prefix, entries[0].path) if entries else None
