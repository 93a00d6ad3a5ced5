"""A plugin with a route whose start-up hook raises."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(
    id="failing-startup", display_name="Failing Startup", provider="test", tool="failing-startup"
)


@hookimpl
def pcm_ops_permissions():
    return [Permission("failing-startup:read", "Read")]


@hookimpl
def pcm_ops_api_routers():
    from fastapi import APIRouter

    from pcm_ops.security import require

    router = APIRouter(dependencies=[require("failing-startup:read")])

    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return [router]


@hookimpl
async def pcm_ops_startup():
    raise ConnectionError("cannot reach the tool's backend")
