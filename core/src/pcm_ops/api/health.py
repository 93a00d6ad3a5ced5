"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import text

from pcm_ops.db.engine import Database
from pcm_ops.plugin import HealthCheck, HealthResult
from pcm_ops.registry import PluginRegistry
from pcm_ops.security.auth import authenticate, is_public, is_public_path
from pcm_ops.settings import Settings

router = APIRouter(tags=["core"])

#: Migration state changes only when someone migrates; re-reading it on every probe of a
#: busy load balancer would cost a database round trip per probe for nothing.
MIGRATION_CACHE_SECONDS = 5.0


class Liveness(BaseModel):
    status: str


class CheckResult(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class Readiness(BaseModel):
    status: str = Field(description="ready, degraded (some plugin failed to load) or not ready")
    checks: list[CheckResult]


async def guard(request: Request) -> None:
    """The app-wide authentication, for the probes (which ``create_app`` mounts without
    it): nothing on a public path (both are by default), a login elsewhere.

    A load balancer calls the probes many times a second; FastAPI's dependency machinery
    for the app-wide dependency cost more than the rest of ``/healthz``.
    """
    if not is_public(request):
        await authenticate(request)


#: The liveness answer (content type, body), made once: probes call it often and it never
#: changes.
LIVENESS_ANSWER = ("application/json", b'{"status":"ok"}')


def answered_before_routing(settings: Settings) -> dict[str, tuple[str, bytes]]:
    """The probes core's outermost layer answers itself, before routing
    (:class:`pcm_ops.middleware.CoreMiddleware`'s ``answers``): ``/healthz`` while it is
    public, when :func:`guard` would let it through without a login; otherwise the route
    below answers it, after the guard."""
    return {"/healthz": LIVENESS_ANSWER} if is_public_path("/healthz", settings) else {}


@router.get("/healthz", response_model=Liveness, summary="Liveness: the process answers")
async def healthz(request: Request) -> Response:
    await guard(request)
    # A ready response skips validating and serialising the model on every probe (the
    # model still documents the answer).
    media_type, body = LIVENESS_ANSWER
    return Response(body, media_type=media_type)


async def _database_check(database: Database) -> CheckResult:
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return CheckResult(name="database", ok=False, detail=f"{type(exc).__name__}: {exc}")
    return CheckResult(name="database", ok=True)


async def _migration_check(request: Request) -> CheckResult:
    state = request.app.state
    cached: tuple[float, CheckResult] | None = getattr(state, "migration_check", None)
    if cached is not None and time.monotonic() - cached[0] < MIGRATION_CACHE_SECONDS:
        return cached[1]
    from pcm_ops.db.migrations import branch_status

    try:
        rows = await anyio.to_thread.run_sync(branch_status, state.settings, state.registry)
    except Exception as exc:
        result = CheckResult(name="migrations", ok=False, detail=f"{type(exc).__name__}: {exc}")
    else:
        behind = [
            f"{row.owner} at {row.current or 'base'}, head {row.head}"
            for row in rows
            if not row.at_head
        ]
        result = CheckResult(
            name="migrations",
            ok=not behind,
            detail="; ".join(behind) + ("; run `pcm-ops db upgrade`" if behind else ""),
        )
    state.migration_check = (time.monotonic(), result)
    return result


async def _plugin_check(owner: str, check: HealthCheck) -> CheckResult:
    name = f"{owner}:{check.name}"
    try:
        outcome: HealthResult = await asyncio.wait_for(check.check(), timeout=check.timeout)
    except TimeoutError:
        return CheckResult(name=name, ok=False, detail=f"no answer within {check.timeout} s")
    except Exception as exc:
        return CheckResult(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}")
    return CheckResult(name=name, ok=outcome.ok, detail=outcome.detail)


def _plugin_state_checks(registry: PluginRegistry) -> list[CheckResult]:
    return [
        CheckResult(
            name=f"plugin:{record.id}", ok=False, detail=f"{record.state.value}: {record.error}"
        )
        for record in registry.problems
    ]


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database reachable, migrations at head, plugins healthy",
    responses={503: {"model": Readiness, "description": "Not ready; the checks say why."}},
)
async def readyz(request: Request) -> Any:
    await guard(request)
    state = request.app.state
    checks: list[CheckResult] = [await _database_check(state.database)]
    if checks[0].ok:
        checks.append(await _migration_check(request))
    checks += await asyncio.gather(
        *(_plugin_check(owner, check) for owner, check in state.health_checks)
    )
    ready = all(check.ok for check in checks)
    # A plugin that failed to load leaves the rest of the platform serving: report it as
    # degraded rather than taking every replica out of the load balancer.
    plugin_problems = _plugin_state_checks(state.registry)
    status = "not ready" if not ready else ("degraded" if plugin_problems else "ready")
    body = Readiness(status=status, checks=checks + plugin_problems)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
