"""A test plugin whose pre-execution check, asked first, cancels a change in the fake
ServiceNow when it is asked for the second time (when the queued run starts): a change
cancelled between a run's request and its start."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="snow-test-canceller", display_name="Canceller", provider="test", tool="canceller"
)

#: Set by the test: the fake ServiceNow and the change's sys_id; the calls seen.
TARGET: dict = {}
CALLS: list = []


@hookimpl(optionalhook=True, tryfirst=True)
def aws_sr_pre_execution_checks(execution_request):
    CALLS.append(execution_request.change_reference)
    if len(CALLS) == 2:
        TARGET["fake"].update(TARGET["change"], state="4")  # Canceled
