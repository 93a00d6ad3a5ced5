"""What an operator asks to run, as given, and the drafts made from an earlier execution
(clone it; rerun its failed instances)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pcm_aws_script_runner.domain import FINISHED, RERUN_STATUSES, TargetKind
from pcm_aws_script_runner.services.errors import Conflict
from pcm_aws_script_runner.services.executions.queries import get_execution, targets_of

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_script_runner.models import AwsSrExecution

__all__ = ["ExecutionDraft", "clone_draft", "rerun_draft"]


@dataclass
class ExecutionDraft:
    """What an operator asks to run, as given (the API's body, the CLI's options).

    ``targets`` holds exactly one of (:class:`~pcm_aws_script_runner.domain.TargetKind`):

    - ``instance_ids``: a list of instance ids, looked up in the inventory;
    - ``instances``: a list of ``{"instance_id", "account_id", "region"}``;
    - ``filter``: inventory filter fields ("select all matching", resolved now);
    - ``saved_filter_id``: the id of a saved inventory filter;
    - ``source``: ``{"name": <target source>, "reference": <text>}``, another plugin's.
    """

    script_id: int
    script_version: int | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    targets: Mapping[str, Any] = field(default_factory=dict)
    max_concurrency: str | int | None = None
    max_errors: str | int | None = None
    delivery_timeout_seconds: int | None = None
    execution_timeout_seconds: int | None = None
    output_s3_bucket: str | None = None
    output_s3_prefix: str | None = None
    cloudwatch_log_group: str | None = None
    comment: str = ""
    change_reference: str | None = None


async def clone_draft(session: AsyncSession, execution_id: int) -> ExecutionDraft:
    """A new run like ``execution_id``: same version, parameters (secrets included, kept
    server-side), targets as they were chosen (a filter is resolved again) and options."""
    execution = await get_execution(session, execution_id)
    spec = dict(execution.target_spec)
    kind = spec.pop("kind", TargetKind.INSTANCE_IDS.value)
    spec.pop("name", None)
    if kind == TargetKind.SOURCE:
        targets: dict[str, Any] = {
            "source": {"name": spec.get("source"), "reference": spec.get("reference", "")}
        }
    elif kind in (TargetKind.FILTER, TargetKind.SAVED_FILTER_ID) and kind in spec:
        targets = {kind: spec[kind]}
    else:
        targets = {kind: spec.get(kind, [])}
    return _draft_of(execution, targets)


async def rerun_draft(session: AsyncSession, execution_id: int) -> ExecutionDraft:
    """A new run of ``execution_id`` on its failed instances only (Failed, TimedOut,
    Undeliverable, Terminated, and those cancelled or never sent).

    :raises Conflict: it is still running, or nothing failed.
    """
    execution = await get_execution(session, execution_id)
    if execution.status not in FINISHED:
        raise Conflict(f"execution {execution_id} is still {execution.status}; wait or cancel it")
    failed = [
        target
        for target in await targets_of(session, execution_id)
        if target.status in RERUN_STATUSES
    ]
    if not failed:
        raise Conflict(f"execution {execution_id} has no failed instance to rerun")
    return _draft_of(
        execution,
        {
            "instances": [
                {"instance_id": t.instance_id, "account_id": t.account_id, "region": t.region}
                for t in failed
            ]
        },
    )


def _draft_of(execution: AwsSrExecution, targets: Mapping[str, Any]) -> ExecutionDraft:
    secret = json.loads(execution.secret_parameters) if execution.secret_parameters else {}
    parameters = {**execution.parameters, **secret}
    return ExecutionDraft(
        script_id=execution.script_id,
        script_version=execution.script_version,
        parameters=parameters,
        targets=targets,
        max_concurrency=execution.max_concurrency,
        max_errors=execution.max_errors,
        delivery_timeout_seconds=execution.delivery_timeout_seconds,
        execution_timeout_seconds=execution.execution_timeout_seconds,
        output_s3_bucket=execution.output_s3_bucket,
        output_s3_prefix=execution.output_s3_prefix,
        cloudwatch_log_group=execution.cloudwatch_log_group,
        comment=execution.comment,
        change_reference=execution.change_reference,
    )
