"""A plugin whose metadata breaks the rules: an empty display name and a provider with spaces."""

from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(id="bad-metadata", display_name="", provider="My Cloud", tool="bad")
