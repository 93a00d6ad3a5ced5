"""A plugin whose implementations ask to be called first (``tryfirst``), though its id
sorts last; it also implements ``greeter``'s hook, to show the order there."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(
    id="zz-first", display_name="Called First", provider="test", tool="zz-first"
)


@hookimpl(tryfirst=True)
def pcm_ops_permissions():
    return [Permission("zz-first:read", "Read")]


@hookimpl(tryfirst=True)
async def pcm_ops_startup(app):
    app.state.started = [*getattr(app.state, "started", []), "zz-first"]


@hookimpl(tryfirst=True, optionalhook=True)
def greeter_names(greeting):
    return f"{greeting}, zz-first"
