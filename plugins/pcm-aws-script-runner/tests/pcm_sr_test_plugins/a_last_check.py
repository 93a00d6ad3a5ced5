"""A passing pre-execution check marked ``trylast``: reported after the others, though its
id sorts first."""

from pcm_aws_script_runner.hooktypes import CheckResult
from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-a-last-check", display_name="Last check", provider="test", tool="last-check"
)


@hookimpl(optionalhook=True, trylast=True)
def aws_sr_pre_execution_checks(execution_request):
    return CheckResult(True, "last")
