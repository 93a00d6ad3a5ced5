"""A plugin implementing a hook that no one specifies, without ``optionalhook``."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="unknown-hook", display_name="Unknown Hook", provider="test", tool="unknown-hook"
)


@hookimpl
def pcm_ops_no_such_hook():
    return None
