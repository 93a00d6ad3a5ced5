"""A plugin that adds a hook spec of its own (``greeter_names``) and implements it too."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(id="greeter", display_name="Greeter", provider="test", tool="greeter")


@hookimpl
def pcm_ops_add_hookspecs(plugin_manager):
    from fixtures_plugins import greeter_hookspecs

    plugin_manager.add_hookspecs(greeter_hookspecs)


@hookimpl
def greeter_names(greeting):
    return f"{greeting}, greeter"
