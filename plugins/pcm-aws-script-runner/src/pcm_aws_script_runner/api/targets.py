"""``/target-sources``: the ways of choosing instances that other plugins supply.

Listing needs ``aws-script-runner:read``. Resolving a reference (a preview of the
instances a run would reach) needs ``aws-script-runner:execute``: it calls the supplying
plugin, which may call an outside system on the operator's behalf.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from pcm_aws_script_runner.api.errors import RESPONSES
from pcm_aws_script_runner.api.schemas.targets import ResolvedTargetOut, ResolveIn, TargetSourceOut
from pcm_aws_script_runner.dependencies import Config, Registry
from pcm_aws_script_runner.ids import EXECUTE, READ
from pcm_aws_script_runner.services.executions import sources
from pcm_ops.context import PluginContext
from pcm_ops.security import Principal, require

# No tags: core tags every route of a plugin with its display name.
router = APIRouter(prefix="/target-sources", responses=RESPONSES)

SourceName = Annotated[str, Path(max_length=64, description="The target source's name.")]


@router.get(
    "",
    response_model=list[TargetSourceOut],
    summary="Target sources other plugins supply",
    dependencies=[require(READ)],
)
async def list_target_sources(registry: Registry) -> Any:
    return [
        TargetSourceOut(
            name=registered.source.name,
            display_name=registered.source.display_name,
            description=registered.source.description,
            plugin=registered.plugin,
        )
        for registered in await sources.target_sources(registry)
    ]


@router.post(
    "/{name}/resolve",
    response_model=list[ResolvedTargetOut],
    summary="The instances a reference resolves to",
    responses={
        502: {"description": "The source failed, answered something malformed, or timed out."},
    },
)
async def resolve(
    name: SourceName,
    body: ResolveIn,
    request: Request,
    registry: Registry,
    config: Config,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    resolved = await sources.resolve_targets(
        registry,
        name,
        body.reference,
        principal,
        time_limit=config.target_resolution_timeout_seconds,
        contexts=PluginContext.request_factory(request),
    )
    return [
        ResolvedTargetOut(
            instance_id=target.instance_id,
            account_id=target.account_id,
            region=target.region,
            label=target.label,
        )
        for target in resolved
    ]
