"""Planning a run: the draft validated, its script version found, its targets resolved,
its limits made absolute and the pre-execution checks asked. The preview shows the plan;
starting one records it (:mod:`.starting`). Nothing here talks to AWS."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from pcm_aws_script_runner.hooktypes import ExecutionRequest, ResolvedTarget
from pcm_aws_script_runner.models import AwsSrScript, AwsSrScriptVersion
from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.executions.checks import CheckReport, run_pre_execution_checks
from pcm_aws_script_runner.services.executions.options import absolute_limit, validate_options
from pcm_aws_script_runner.services.executions.targets import (
    PlannedTarget,
    TargetRequest,
    plan_targets,
    target_kind,
)
from pcm_aws_script_runner.services.run_parameters import masked, validate_run_parameters

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_aws_script_runner.services.executions.drafts import ExecutionDraft
    from pcm_ops.audit import Actor
    from pcm_ops.context import ContextFactory
    from pcm_ops.registry import PluginRegistry

__all__ = ["BATCH_SIZE", "SPEC_LIST_ITEMS", "Plan", "plan_execution", "shown_target_spec"]

#: SSM's limit of instance ids per SendCommand.
BATCH_SIZE = 50


@dataclass
class Plan:
    """A validated run, before it starts: what the preview shows."""

    script: AwsSrScript
    version: AwsSrScriptVersion
    values: dict[str, Any]
    shown_values: dict[str, Any]
    secret_values: dict[str, Any]
    targets: list[PlannedTarget]
    target_spec: dict[str, Any]
    max_concurrency: str
    max_errors: str
    concurrency: int
    error_budget: int
    delivery_timeout_seconds: int
    execution_timeout_seconds: int
    output_s3_bucket: str | None
    output_s3_prefix: str | None
    cloudwatch_log_group: str | None
    comment: str
    change_reference: str | None
    checks: CheckReport | None = None

    @property
    def runnable(self) -> list[PlannedTarget]:
        return [target for target in self.targets if target.will_run]

    @property
    def skipped(self) -> list[PlannedTarget]:
        return [target for target in self.targets if not target.will_run]

    def account_regions(self) -> list[dict[str, Any]]:
        """Per account-region: instances that will run, skipped ones, and SendCommands."""
        groups: dict[str, list[PlannedTarget]] = defaultdict(list)
        for target in self.targets:
            groups[target.account_region].append(target)
        rows = []
        for key in sorted(groups):
            members = groups[key]
            running = sum(target.will_run for target in members)
            account_id, region = key.split(":", 1)
            rows.append(
                {
                    "account_id": account_id,
                    "region": region,
                    "instances": running,
                    "skipped": len(members) - running,
                    "send_commands": math.ceil(running / BATCH_SIZE),
                }
            )
        return rows

    def check_request(self, actor: Actor | None) -> ExecutionRequest:
        """What the pre-execution checks of other plugins are given."""
        spec = self.target_spec
        return ExecutionRequest(
            script_id=self.script.id or 0,
            script_name=self.script.name,
            script_version=self.version.number,
            script_sha256=self.version.sha256,
            language=self.version.language,
            parameters=dict(self.shown_values),
            targets=tuple(
                ResolvedTarget(t.instance_id, t.account_id, t.region, t.name) for t in self.runnable
            ),
            requested_by=actor.name if actor is not None else "",
            target_source=spec.get("source"),
            target_reference=spec.get("reference"),
            change_reference=self.change_reference,
            comment=self.comment,
        )


async def plan_execution(
    session: AsyncSession,
    draft: ExecutionDraft,
    config: ScriptRunnerSettings,
    *,
    registry: PluginRegistry | None = None,
    actor: Actor | None = None,
    run_checks: bool = True,
    contexts: ContextFactory | None = None,
) -> Plan:
    """Validate ``draft`` and resolve its targets: the preview, and the first half of a start.

    ``contexts`` gives the other plugins' pre-execution checks and target sources their
    ``context`` (:meth:`pcm_ops.context.PluginContext.request_factory` in a route).

    :raises InvalidInput: every problem found, each naming its field.
    :raises NotFound: a target source that no plugin supplies.
    :raises TargetResolutionError: a target source failed.
    """
    script, version = await _version_of(session, draft.script_id, draft.script_version)
    # Every problem at once (parameters, options and targets), not one group per attempt.
    problems: list[tuple[str, str]] = []
    try:
        values = validate_run_parameters(version, draft.parameters or {})
    except InvalidInput as exc:
        problems.extend(exc.problems)
        values = {}
    options = validate_options(draft, config, problems)
    principal = actor.principal if actor is not None else None
    try:
        kind, value = target_kind(draft.targets)
        targets, spec = await plan_targets(
            TargetRequest(session, config, registry, principal, contexts), kind, value
        )
    except InvalidInput as exc:
        problems.extend(exc.problems)
    else:
        if not targets:
            problems.append((f"targets.{kind}", "resolves to no instance"))
    if problems:
        raise InvalidInput(problems)
    secret_names = {spec_["name"] for spec_ in version.parameters if spec_.get("secret")}
    plan = Plan(
        script=script,
        version=version,
        values=values,
        shown_values=masked(version.parameters, values),
        secret_values={name: v for name, v in values.items() if name in secret_names},
        targets=targets,
        target_spec=spec,
        max_concurrency=options.max_concurrency,
        max_errors=options.max_errors,
        concurrency=0,
        error_budget=0,
        delivery_timeout_seconds=options.delivery_timeout_seconds,
        execution_timeout_seconds=options.execution_timeout_seconds,
        output_s3_bucket=options.output_s3_bucket,
        output_s3_prefix=options.output_s3_prefix,
        cloudwatch_log_group=options.cloudwatch_log_group,
        comment=options.comment,
        change_reference=options.change_reference,
    )
    total = len(plan.runnable)
    plan.concurrency = absolute_limit(options.max_concurrency, total, minimum=1)
    plan.error_budget = absolute_limit(options.max_errors, total, minimum=0)
    if run_checks and registry is not None:
        plan.checks = await run_pre_execution_checks(
            registry,
            plan.check_request(actor),
            principal,
            time_limit=config.pre_execution_check_timeout_seconds,
            contexts=contexts,
        )
    return plan


async def _version_of(
    session: AsyncSession, script_id: Any, number: Any
) -> tuple[AwsSrScript, AwsSrScriptVersion]:
    if isinstance(script_id, bool) or not isinstance(script_id, int) or script_id < 1:
        raise InvalidInput([("script_id", "must be the id of a script (a positive integer)")])
    script = await session.get(AwsSrScript, script_id)
    if script is None:
        raise InvalidInput([("script_id", f"there is no script {script_id}")])
    if script.archived:
        raise InvalidInput(
            [("script_id", f"script {script.name!r} is archived; unarchive it to run it")]
        )
    if number is None:
        number = script.current_version
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise InvalidInput([("script_version", "must be a version number (a positive integer)")])
    version = (
        await session.exec(
            select(AwsSrScriptVersion).where(
                AwsSrScriptVersion.script_id == script_id, AwsSrScriptVersion.number == number
            )
        )
    ).first()
    if version is None:
        raise InvalidInput(
            [
                (
                    "script_version",
                    f"script {script.name!r} has no version {number}; its versions are 1 "
                    f"to {script.current_version}",
                )
            ]
        )
    return script, version


#: The most items of a list in ``target_spec`` that the detail and the audit record show
#: (the instances themselves are paged at the execution's ``targets_url``).
SPEC_LIST_ITEMS = 20


def shown_target_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with each list longer than :data:`SPEC_LIST_ITEMS` (``instance_ids``,
    ``instances``) cut to that many and its length given as ``<name>_count``: the detail
    stays the same size however many instances were asked for."""
    shown = dict(spec)
    for name, value in spec.items():
        if isinstance(value, list) and len(value) > SPEC_LIST_ITEMS:
            shown[name] = value[:SPEC_LIST_ITEMS]
            shown[f"{name}_count"] = len(value)
    return shown
