"""An async pre-execution check that blocks runs without an approved change."""

from pcm_aws_script_runner.hooktypes import CheckResult
from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(id="sr-check-fails", display_name="Fails", provider="test", tool="fails")


@hookimpl(optionalhook=True)
async def aws_sr_pre_execution_checks(execution_request, principal):
    if execution_request.change_reference != "CHG0000001":
        # It names another plugin; the check runner must name the real one.
        return CheckResult(False, "change CHG0000042 is not approved", plugin="someone-else")
    return CheckResult(True)
