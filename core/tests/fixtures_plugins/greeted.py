"""A plugin implementing ``greeter``'s hook, optionally: it loads without ``greeter`` too."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(id="greeted", display_name="Greeted", provider="test", tool="greeted")


@hookimpl(optionalhook=True)
def greeter_names(greeting):
    return f"{greeting}, greeted"
