"""A plugin that claims the same provider and tool as ``alpha``."""

from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(id="alpha-twin", display_name="Alpha Twin", provider="test", tool="alpha")
