"""An ``aws_sr_execution_events`` implementation that raises on every event."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-events-broken", display_name="Broken", provider="test", tool="broken"
)

CALLS: list = []


@hookimpl(optionalhook=True)
def aws_sr_execution_events(event):
    CALLS.append(event.kind)
    raise RuntimeError("the chat service is down")
