"""A pre-execution check that passes for its first ``STATE["passes"]`` calls and fails after:
a change cancelled between the run's request (first call) and its start (second call)."""

from pcm_aws_script_runner.hooktypes import CheckResult
from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(id="sr-check-flips", display_name="Flips", provider="test", tool="flips")

STATE = {"passes": 1}
#: (request, principal) of every call, in order.
SEEN: list = []


@hookimpl(optionalhook=True)
def aws_sr_pre_execution_checks(execution_request, principal):
    SEEN.append((execution_request, principal))
    if len(SEEN) <= STATE["passes"]:
        return CheckResult(True)
    return CheckResult(False, f"change {execution_request.change_reference} was cancelled")
