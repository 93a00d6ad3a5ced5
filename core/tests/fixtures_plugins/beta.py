"""A second well-behaved plugin, with an API route and a permission."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(id="beta", display_name="Beta Tool", provider="test", tool="beta")


@hookimpl
def pcm_ops_permissions():
    return [Permission("beta:read", "Read beta things")]


@hookimpl
def pcm_ops_api_routers():
    from fastapi import APIRouter

    from pcm_ops.security import require

    router = APIRouter(dependencies=[require("beta:read")])

    @router.get("/items")
    async def list_items() -> dict[str, object]:
        return {"items": ["b"]}

    return [router]
