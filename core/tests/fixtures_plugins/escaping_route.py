"""A plugin whose router has an absolute prefix outside its own (``/api/elsewhere``)."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(
    id="escaping-route", display_name="Escaping Route", provider="test", tool="escaping-route"
)


@hookimpl
def pcm_ops_permissions():
    return [Permission("escaping-route:read", "Read")]


@hookimpl
def pcm_ops_api_routers():
    from fastapi import APIRouter

    from pcm_ops.security import require

    router = APIRouter(prefix="/api/elsewhere", dependencies=[require("escaping-route:read")])

    @router.get("/things")
    async def things() -> list[str]:
        return []

    return [router]
