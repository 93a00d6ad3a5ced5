"""A plugin whose metadata id differs from its entry-point name (``misnamed``)."""

from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="something-else", display_name="Misnamed", provider="test", tool="misnamed"
)
