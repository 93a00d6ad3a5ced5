"""A plugin whose implementations ask to be called last (``trylast``), though its id sorts
first; it also implements ``greeter``'s hook, to show the order there."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(id="aa-last", display_name="Called Last", provider="test", tool="aa-last")


@hookimpl(trylast=True)
def pcm_ops_permissions():
    return [Permission("aa-last:read", "Read")]


@hookimpl(trylast=True)
async def pcm_ops_startup(app):
    app.state.started = [*getattr(app.state, "started", []), "aa-last"]


@hookimpl(trylast=True, optionalhook=True)
def greeter_names(greeting):
    return f"{greeting}, aa-last"
