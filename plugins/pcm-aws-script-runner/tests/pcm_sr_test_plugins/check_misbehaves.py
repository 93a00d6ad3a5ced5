"""Checks that cannot decide: a slow one, one that answers nonsense, and one that abstains;
and a target-source hook that raises."""

import asyncio

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-check-misbehaves", display_name="Misbehaves", provider="test", tool="misbehaves"
)


@hookimpl(optionalhook=True)
def aws_sr_target_sources():
    raise RuntimeError("cannot list sources")


@hookimpl(optionalhook=True)
async def aws_sr_pre_execution_checks(execution_request):
    if execution_request.comment == "slow":
        await asyncio.sleep(5)
    if execution_request.comment == "nonsense":
        return "yes"
    return None
