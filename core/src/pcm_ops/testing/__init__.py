"""Test support for PCM-Ops and its plugins.

The pytest fixtures live in :mod:`pcm_ops.testing.fixtures`, which pytest loads by itself
(core registers it as the ``pcm_ops`` pytest plugin): install ``pcm-ops-core[testing]`` and
request them by name. This package also offers :func:`app_client`, :func:`serve` and
:func:`issue_api_token`, for a test that builds an application of its own.

:mod:`pcm_ops.testing.accessibility` checks a page in a browser test with axe-core.

Nothing heavy is imported at the top of this package: pytest imports it in every
environment where core is installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

__all__ = ["app_client", "issue_api_token", "serve"]


@asynccontextmanager
async def app_client(
    app: FastAPI,
    base_url: str = "http://testserver",
    headers: dict[str, str] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` that talks to ``app`` in-process, with its lifespan running.

    Start-up (plugin ``pcm_ops_startup`` hooks, migrations on start) runs on entering the
    block and shutdown on leaving it, exactly as under uvicorn; an exception raised by
    start-up (strict mode) propagates from ``async with``.

    Example::

        async with app_client(create_app(settings, registry)) as client:
            response = await client.get("/healthz")

    ``headers`` go with every request (e.g. from :func:`issue_api_token`).
    """
    import httpx
    from asgi_lifespan import LifespanManager

    # Generous timeouts: start-up may run migrations, which take seconds on PostgreSQL.
    async with LifespanManager(
        state_per_request(app), startup_timeout=60, shutdown_timeout=60
    ) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, headers=headers
        ) as client:
            yield client


@asynccontextmanager
async def serve(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serve a *running* application (its lifespan already started, e.g. the
    ``pcm_running_app`` fixture) with uvicorn on a free loopback port, in the test's own
    event loop; yields its base URL (``http://127.0.0.1:<port>``).

    Use it where in-process calls are not enough: a browser, a client in another process,
    or behaviour that only real HTTP shows (keep-alive connections, when a response is sent
    compared with when the route's work is done)::

        async with serve(pcm_running_app) as url, httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/healthz")

    ``options`` go to ``uvicorn.Config`` (default: warnings only, uvicorn's own log
    configuration); to log as ``pcm-ops serve`` does, access lines included::

        serve(app, log_config=pcm_ops.logs.uvicorn_log_config(), log_level="info")
    """
    import asyncio
    import socket

    import uvicorn

    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP; without it every request after the first on a kept-alive
    # connection waits ~40 ms for a delayed ACK (Nagle).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config: dict[str, Any] = {"log_level": "warning", "timeout_graceful_shutdown": 1, **options}
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", **config))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        for _ in range(300):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            if task.done():
                task.result()  # the reason it stopped
            raise RuntimeError("uvicorn did not start within 15 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 15)
        finally:
            listener.close()


def state_per_request(app: Any) -> Any:
    """``app``, with each request given its own copy of the lifespan state, as uvicorn does.

    asgi-lifespan hands every request the same ``scope["state"]`` dict; without a copy,
    anything a request stores on ``request.state`` would be seen by the next request.
    """

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan" and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return wrapped


async def issue_api_token(
    app: FastAPI,
    role: str = "admin",
    scopes: list[str] | None = None,
    username: str | None = None,
) -> str:
    """Create a user with ``role`` and an API token for it; return the raw token.

    The database of ``app`` must be migrated (core's tables hold users and tokens). The
    token's ``scopes`` default to every permission the role holds in ``app`` (core's and
    the loaded plugins'); pass fewer to test a narrowly scoped token. Send it as
    ``Authorization: Bearer <token>``.
    """
    import secrets

    from pcm_ops.security.tokens import create_token
    from pcm_ops.security.users import create_user

    held = app.state.permissions.for_role(role)
    username = username or f"pytest-{role}-{secrets.token_hex(4)}"
    async with app.state.database.session() as session:
        user = await create_user(session, username, secrets.token_urlsafe(24), role)
        issued = await create_token(
            session, user, "pytest", sorted(held if scopes is None else scopes), held, None
        )
    return issued.raw
