"""Version numbers, kept in a module of their own so that reading them imports nothing."""

__version__ = "0.1.0"

#: The version of the plugin API (the hook specs and the ``pcm_ops.plugin`` helpers).
#: Plugins declare the range they support in their metadata (``plugin_api=">=1.0,<2"``).
#: The minor number grows when hooks are added; the major number when one changes.
PLUGIN_API_VERSION = "1.0"
