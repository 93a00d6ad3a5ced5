"""A well-behaved plugin with settings, an API route, a CLI group and start-up hooks."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(
    id="alpha",
    display_name="Alpha Tool",
    provider="test",
    tool="alpha",
    description="The first test plugin.",
)


@hookimpl
def pcm_ops_settings_model():
    from pydantic import BaseModel

    class AlphaSettings(BaseModel):
        greeting: str = "hello"
        max_items: int = 10

    return AlphaSettings


@hookimpl
def pcm_ops_permissions():
    return [Permission("alpha:read", "Read alpha items", ("admin", "operator", "viewer"))]


@hookimpl
def pcm_ops_api_routers(config):
    from fastapi import APIRouter

    from pcm_ops.security import require

    router = APIRouter(dependencies=[require("alpha:read")])

    @router.get("/items")
    async def list_items() -> dict[str, object]:
        return {"items": [], "greeting": config.greeting}

    return [router]


@hookimpl
def pcm_ops_cli_commands():
    import click

    @click.group()
    def alpha() -> None:
        """Alpha's commands."""

    @alpha.command()
    def hello() -> None:
        """Say hello."""
        click.echo("hello from alpha")

    return [alpha]


@hookimpl
async def pcm_ops_startup(app):
    app.state.alpha_started = True
    app.state.alpha_saw_engine_at_startup = app.state.job_engine is not None


@hookimpl
async def pcm_ops_shutdown(app):
    app.state.alpha_stopped = True
    app.state.alpha_saw_engine_at_shutdown = getattr(app.state, "job_engine", None) is not None
