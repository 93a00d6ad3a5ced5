"""More plugins for the web tests, one object each: entry points name them as
``web_more_plugins:<name>``. Each exercises one way a plugin's web pages can be wrong, or a
plugin state the plugins page shows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pcm_ops import hookimpl
from pcm_ops.plugin import NavEntry, Permission, PluginMetadata, WebPages

HERE = Path(__file__).resolve().parent


def _metadata(plugin_id: str, **fields: Any) -> PluginMetadata:
    values: dict[str, Any] = {
        "id": plugin_id,
        "display_name": plugin_id.replace("-", " ").title(),
        "provider": "servicenow",
        "tool": plugin_id,
        "description": f"The {plugin_id} test plugin.",
    }
    values.update(fields)
    return PluginMetadata(**values)


def _viewable(plugin_id: str) -> Any:
    @hookimpl
    def pcm_ops_permissions() -> list[Permission]:
        return [Permission(f"{plugin_id}:view", "See it", ("admin", "operator", "viewer"))]

    return pcm_ops_permissions


def _router_with(plugin_id: str, path: str) -> Any:
    from fastapi import APIRouter

    from pcm_ops.security import require

    router = APIRouter(dependencies=[require(f"{plugin_id}:view")])

    @router.get(path)
    async def page() -> dict[str, str]:
        return {}

    return router


# A plugin for an API only: listed on the landing page, without a link.
@hookimpl
def _no_pages_routers() -> list[Any]:
    return [_router_with("api-only", "/things")]


api_only = SimpleNamespace(
    metadata=_metadata("api-only", display_name="CMDB Sync"),
    pcm_ops_permissions=_viewable("api-only"),
    pcm_ops_api_routers=_no_pages_routers,
)

# A plugin for a newer core than this one.
incompatible = SimpleNamespace(metadata=_metadata("incompatible", plugin_api=">=99"))


# A plugin whose page route sits where its static folder would be served.
@hookimpl
def _static_collision_pages() -> WebPages:
    return WebPages(
        routers=[_router_with("static-collision", "/static/app.css")],
        static=HERE / "web_example_plugin" / "static",
        nav=[NavEntry("Collision")],
    )


static_collision = SimpleNamespace(
    metadata=_metadata("static-collision"),
    pcm_ops_permissions=_viewable("static-collision"),
    pcm_ops_web_pages=_static_collision_pages,
)


# A plugin that names a template folder that does not exist.
@hookimpl
def _missing_folder_pages() -> WebPages:
    return WebPages(templates=HERE / "no-such-folder", nav=[NavEntry("Missing")])


missing_folder = SimpleNamespace(
    metadata=_metadata("missing-folder"), pcm_ops_web_pages=_missing_folder_pages
)


# A plugin whose hook returns something else than WebPages.
@hookimpl
def _not_web_pages() -> dict[str, Any]:
    return {"routers": []}


not_web_pages = SimpleNamespace(
    metadata=_metadata("not-web-pages"), pcm_ops_web_pages=_not_web_pages
)
