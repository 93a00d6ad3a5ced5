"""Records every ``aws_sr_execution_events`` call (with the context's plugin id)."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-events-recorder", display_name="Events", provider="test", tool="events"
)

#: (event, the implementing plugin's context id) per call, in call order.
EVENTS: list = []


@hookimpl(optionalhook=True)
async def aws_sr_execution_events(event, context):
    EVENTS.append((event, context.plugin_id))
