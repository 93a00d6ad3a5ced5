"""A check and a target source that use their ``context``: the plugin's own settings
(``PCM_SR_CHECK_CONTEXT__MAX_TARGETS``) and a database session of their own."""

from pydantic import BaseModel
from sqlmodel import col, func, select

from pcm_aws_script_runner.hooktypes import CheckResult, ResolvedTarget, TargetSource
from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="sr-check-context", display_name="Context", provider="test", tool="context"
)


class Settings(BaseModel):
    max_targets: int = 100


@hookimpl
def pcm_ops_settings_model():
    return Settings


@hookimpl(optionalhook=True)
async def aws_sr_pre_execution_checks(execution_request, context):
    async with context.session() as session:
        from pcm_aws_script_runner.models import AwsSrScript

        scripts = (await session.exec(select(func.count()).select_from(AwsSrScript))).one()
    count = len(execution_request.targets)
    if count > context.config.max_targets:
        return CheckResult(
            False,
            f"{context.plugin_id}: {count} targets > {context.config.max_targets} "
            f"({scripts} scripts in the library)",
        )
    return CheckResult(True)


async def resolve(reference, principal, context):
    from pcm_aws_script_runner.models import AwsSrInstance

    async with context.session() as session:
        rows = (
            await session.exec(
                select(
                    AwsSrInstance.instance_id,
                    AwsSrInstance.account_id,
                    AwsSrInstance.region,
                    AwsSrInstance.name,
                )
                .where(AwsSrInstance.account_id == reference)
                .order_by(col(AwsSrInstance.instance_id))
            )
        ).all()
    if not rows:
        raise LookupError(f"no instance of account {reference} in the inventory")
    return [ResolvedTarget(*row) for row in rows][: context.config.max_targets]


@hookimpl(optionalhook=True)
def aws_sr_target_sources():
    return [TargetSource("test-account", "Test account", resolve, "An account id")]
