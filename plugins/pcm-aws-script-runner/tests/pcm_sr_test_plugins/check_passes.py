"""A pre-execution check that lets every run through, and a target source of static fleets."""

from pcm_aws_script_runner.hooktypes import (
    CheckResult,
    ResolvedTarget,
    TargetSource,
    UnresolvedTarget,
)
from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-check-passes", display_name="Passes", provider="test", tool="passes"
)

FLEETS = {
    "web": [
        ResolvedTarget("i-0123456789abcdef0", "111122223333", "eu-west-1", "web-1"),
        ResolvedTarget("i-0123456789abcdef1", "111122223333", "eu-west-1", "web-2"),
        ResolvedTarget("i-0123456789abcdef0", "111122223333", "eu-west-1", "web-1 again"),
    ],
    "gov": [ResolvedTarget("mi-0123456789abcdef0", "444455556666", "us-gov-west-1")],
    "broken": [ResolvedTarget("server-7", "111122223333", "eu-west-1")],
    "partly": [
        UnresolvedTarget(" printer-3 ", "it is not an EC2 instance"),
        ResolvedTarget("i-0123456789abcdef0", "111122223333", "eu-west-1", "web-1"),
    ],
}


async def resolve_fleet(reference, principal):
    if reference == "slow":
        import asyncio

        await asyncio.sleep(5)
    if reference == "down":
        raise ConnectionError("the fleet database is down")
    if reference not in FLEETS:
        raise LookupError(f"there is no fleet {reference!r}")
    return FLEETS[reference]


@hookimpl(optionalhook=True)
def aws_sr_target_sources():
    return [TargetSource("static-fleet", "Static fleet", resolve_fleet, "A fleet name.")]


@hookimpl(optionalhook=True)
def aws_sr_pre_execution_checks(execution_request):
    return CheckResult(True, "fine")
