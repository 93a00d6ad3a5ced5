"""The application factory: one FastAPI app with core's endpoints and every loaded plugin."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from pcm_ops.__about__ import __version__
from pcm_ops.db.engine import Database
from pcm_ops.mounting import mount_plugin_routers
from pcm_ops.plugin import HealthCheck
from pcm_ops.registry import PluginRegistry
from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.app")


def create_app(settings: Settings, registry: PluginRegistry | None = None) -> FastAPI:
    """Build the application for ``settings``.

    :param settings: core settings (see :func:`pcm_ops.settings.load_settings`).
    :param registry: already discovered plugins; discovered from ``settings`` when omitted.
    :raises pcm_ops.errors.ConfigError: invalid plugin selection or plugin settings.
    :raises pcm_ops.errors.PluginError: in strict mode, when any plugin fails.
    """
    if registry is None:
        from pcm_ops.discovery import discover

        registry = discover(settings)

    from pcm_ops.security import secrets
    from pcm_ops.security.auth import authenticate
    from pcm_ops.security.permissions import collect_permissions

    secrets.configure(settings.data_dir)
    app = FastAPI(
        title="PCM-Ops",
        version=__version__,
        description="Plugin-based multi-cloud operations platform.",
        lifespan=_lifespan,
        openapi_tags=[{"name": "core", "description": "Core platform endpoints."}],
        # Every route is born protected: the app-wide dependency refuses requests without
        # credentials except on public paths, and routes add `require(permission)`.
        dependencies=[Depends(authenticate)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.database = Database(settings)
    app.state.permissions = collect_permissions(registry)

    from pcm_ops.api import audit, auth, docs, health, jobs, plugins

    # The probes (/healthz, /readyz) skip the app-wide dependency and check credentials
    # themselves, only when their path is not public (see pcm_ops.api.health.guard).
    app.router.routes.extend(health.router.routes)
    for core_router in (
        auth.router,
        audit.router,
        plugins.router,
        jobs.router,
        docs.router,
    ):
        app.include_router(core_router)

    for record, routers in registry.call_each("pcm_ops_api_routers", settings=settings):
        assert record.metadata is not None
        mount_plugin_routers(app, registry, record, routers, record.metadata.api_prefix)
        if record.loaded and app.openapi_tags is not None:
            app.openapi_tags.append(
                {"name": record.metadata.display_name, "description": record.metadata.description}
            )

    from pcm_ops.web import setup_web

    setup_web(app, settings, registry)

    checks: list[tuple[str, HealthCheck]] = []
    for record, returned in registry.call_each("pcm_ops_health_checks", settings=settings):
        checks.extend((record.id, check) for check in returned)
    app.state.health_checks = checks

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
        )
    from pcm_ops.metrics import Metrics
    from pcm_ops.metrics import router as metrics_router
    from pcm_ops.middleware import CoreMiddleware

    app.state.metrics = Metrics(registry)
    app.include_router(metrics_router)
    # Outermost: log context (request id, plugin), metrics, security headers, NUL refusal
    # and the flash cookie, in one layer with one `send` wrapper (see pcm_ops.middleware).
    app.add_middleware(
        CoreMiddleware,
        metrics=app.state.metrics,
        prefixes={
            prefix: record.id
            for record in registry.records
            if record.metadata is not None
            for prefix in (record.metadata.api_prefix, record.metadata.page_prefix)
        },
        hsts=settings.hsts,
        # The liveness probe, when public, is answered before routing (it never changes).
        answers=health.answered_before_routing(settings),
    )

    from pcm_ops.dispatch import install_prefix_dispatch

    # A request is matched against its plugin's routes only (and core's), not every route.
    install_prefix_dispatch(
        app,
        [
            prefix
            for record in registry.records
            if record.metadata is not None
            for prefix in (record.metadata.api_prefix, record.metadata.page_prefix)
        ],
    )
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    registry: PluginRegistry = app.state.registry
    database: Database = app.state.database
    if settings.migrate_on_start or settings.demo:
        import anyio.to_thread

        from pcm_ops.db.migrations import migrate_on_start

        await anyio.to_thread.run_sync(migrate_on_start, settings, registry)
    import anyio.to_thread

    from pcm_ops.security.secrets import verify_key

    # Refuses to start with a key that cannot decrypt the secrets already stored.
    await anyio.to_thread.run_sync(verify_key, settings, registry)
    if settings.demo:
        from pcm_ops.security.demo import announce, reset_demo_admin

        async with database.session() as session:
            password = await reset_demo_admin(session)
        announce(password, f"http://{settings.host}:{settings.port}/")
    from pcm_ops.jobs.lifespan import start_jobs, stop_jobs

    await start_jobs(app)
    try:
        await registry.call_each_async("pcm_ops_startup", app=app, settings=settings)
        from pcm_ops.memory import tune_garbage_collector

        tune_garbage_collector(settings)
        try:
            yield
        finally:
            # The job engine stops first: no job of this process runs on what the plugins'
            # shutdown hooks release next (AWS clients, demo mode's fake AWS); unfinished
            # jobs resume on the next start.
            await stop_jobs(app)
            await registry.call_each_async(
                "pcm_ops_shutdown", reverse=True, app=app, settings=settings
            )
    finally:
        await stop_jobs(app)  # does nothing when it already ran
        await database.dispose()
