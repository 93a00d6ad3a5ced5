"""``GET /api/plugins``: what is installed and in what state, the same as the CLI shows."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel

from pcm_ops.security.auth import require
from pcm_ops.security.principal import Principal

router = APIRouter(prefix="/api", tags=["core"])


class MigrationState(BaseModel):
    head: str | None = None
    current: str | None = None
    pending: list[str] = []
    error: str | None = None


class PluginInfo(BaseModel):
    id: str
    distribution: str | None
    version: str | None
    state: str
    error: str | None
    display_name: str | None
    provider: str | None
    tool: str | None
    description: str | None
    plugin_api: str | None
    api_prefix: str | None
    page_prefix: str | None
    hooks: list[str]
    routes: list[str]
    migration: MigrationState | None
    discovery_ms: float


class PluginsReport(BaseModel):
    core_version: str
    plugin_api_version: str
    plugins: list[PluginInfo]
    hook_call_order: dict[str, list[str]]


@router.get("/plugins", response_model=PluginsReport, summary="Installed plugins and their state")
async def list_plugins(
    request: Request, _: Annotated[Principal, require("core:plugins.read")]
) -> Any:
    from pcm_ops.introspection import describe_plugins

    state = request.app.state
    return await anyio.to_thread.run_sync(describe_plugins, state.settings, state.registry)
