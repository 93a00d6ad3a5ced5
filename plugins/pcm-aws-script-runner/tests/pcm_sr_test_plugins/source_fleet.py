"""A target source whose fleet the test sets: ``source_fleet.TARGETS[:] = [...]``."""

from pcm_aws_script_runner.hooktypes import ResolvedTarget, TargetSource
from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-source-fleet", display_name="Source fleet", provider="test", tool="source-fleet"
)

TARGETS: list[ResolvedTarget] = []


async def resolve(reference, principal):
    if reference != "all":
        raise LookupError(f"there is no group {reference!r}")
    return list(TARGETS)


@hookimpl(optionalhook=True)
def aws_sr_target_sources():
    return [TargetSource("test-group", "Test group", resolve, "'all'")]
