"""A pre-execution check that raises, and a target source that claims a taken name."""

from pcm_aws_script_runner.hooktypes import TargetSource
from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-check-raises", display_name="Raises", provider="test", tool="raises"
)


async def never(reference, principal):
    raise AssertionError("a source left out must never be asked")


@hookimpl(optionalhook=True)
def aws_sr_target_sources():
    return [
        TargetSource("static-fleet", "Imposter", never),
        TargetSource("Bad Name", "Badly named", never),
    ]


@hookimpl(optionalhook=True)
def aws_sr_pre_execution_checks():
    raise RuntimeError("ServiceNow is down")
