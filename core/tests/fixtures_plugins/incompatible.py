"""A plugin written for a plugin API this core does not offer."""

from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="incompatible",
    display_name="From the Future",
    provider="test",
    tool="incompatible",
    plugin_api=">=2.0,<3",
)
