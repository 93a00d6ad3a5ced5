"""Starting a run: the plan recorded in the caller's transaction (the execution, its
``SendCommand`` batches of at most 50 instances of one account-region, one row per instance,
the audit event), then its durable workflow enqueued (:func:`launch`).

Transactions: like every service, these add rows and audit records to the caller's session
and flush; the caller's unit of work (a request's ``DbSession``, the CLI's session) commits
when it ends normally, so a 2xx answer means committed. Two things follow:

- :func:`launch` is the one service that commits, once: the job runs in a transaction of its
  own and must find the execution it is given.
- A run that a pre-execution check refuses is audited (flushed) and :class:`Blocked` is
  raised. Raised through the unit of work it would roll that record back: callers answer
  it (409, the form, ``Error:``) after their transaction has ended normally.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import insert

from pcm_aws_script_runner.domain import ExecutionStatus, InstanceStatus, RerunKind
from pcm_aws_script_runner.ids import EXECUTION_START_ACTION, EXECUTION_WORKFLOW, EXECUTIONS_QUEUE
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_aws_script_runner.services.errors import Blocked, InvalidInput
from pcm_aws_script_runner.services.executions.planning import (
    BATCH_SIZE,
    Plan,
    plan_execution,
    shown_target_spec,
)
from pcm_aws_script_runner.services.executions.targets import PlannedTarget
from pcm_aws_script_runner.services.validation import LANGUAGES
from pcm_ops import audit
from pcm_ops.db.types import utcnow

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_aws_script_runner.services.executions.drafts import ExecutionDraft
    from pcm_ops.audit import Actor
    from pcm_ops.context import ContextFactory
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

__all__ = ["comment_stamp", "launch", "start_execution"]


def comment_stamp(execution_id: int, batch_number: int) -> str:
    """What a batch's ``SendCommand`` carries in its comment, to find it again after a crash."""
    return f"pcm-ops execution {execution_id} batch {batch_number}"


async def start_execution(
    session: AsyncSession,
    draft: ExecutionDraft,
    config: ScriptRunnerSettings,
    actor: Actor,
    *,
    registry: PluginRegistry | None = None,
    rerun_of: int | None = None,
    rerun_kind: RerunKind | None = None,
    contexts: ContextFactory | None = None,
) -> AwsSrExecution:
    """Plan, check and record an execution in ``session`` (flushed, not committed; not yet
    enqueued: then :func:`launch`).

    :raises InvalidInput: a field is wrong, or no target is SSM-online.
    :raises Blocked: a pre-execution check refused the run. The refusal is audited as a
        failure in ``session``: commit it before answering (see the module's docstring).
    """
    plan = await plan_execution(
        session, draft, config, registry=registry, actor=actor, contexts=contexts
    )
    if not plan.runnable:
        raise InvalidInput(
            [
                (
                    "targets",
                    f"none of the {len(plan.targets)} instances can run it: "
                    f"{plan.targets[0].skip_reason} (and so on)",
                )
            ]
        )
    details = _audit_details(plan)
    if plan.checks is not None and not plan.checks.passed:
        await audit.record_by(
            session,
            actor,
            EXECUTION_START_ACTION,
            object_type="script",
            object_id=str(plan.script.id),
            outcome=audit.FAILURE,
            details={**details, "blocked": plan.checks.reason()},
        )
        await session.flush()
        raise Blocked(plan.checks)
    execution = _execution_of(plan, actor, rerun_of, rerun_kind)
    session.add(execution)
    await session.flush()
    assert execution.id is not None
    batches, numbers = _batches_of(execution.id, plan)
    # Into the table (Core), as the targets below: an ORM object per batch cost more than
    # the statement (15-30 ms of starting 2,000 instances in 40 batches; now 2 ms). Never
    # empty: an execution without a runnable target was refused above.
    await session.exec(insert(cast(Any, AwsSrExecutionBatch).__table__), params=batches)
    await _add_targets(session, execution.id, plan, numbers)
    await audit.record_by(
        session,
        actor,
        EXECUTION_START_ACTION,
        object_type="execution",
        object_id=str(execution.id),
        details=details,
    )
    await session.flush()
    return execution


def _execution_of(
    plan: Plan, actor: Actor, rerun_of: int | None, rerun_kind: RerunKind | None
) -> AwsSrExecution:
    return AwsSrExecution(
        script_id=plan.script.id or 0,
        script_version=plan.version.number,
        script_name=plan.script.name,
        script_sha256=plan.version.sha256,
        language=plan.version.language,
        document_name=LANGUAGES[plan.version.language],
        parameters=plan.shown_values,
        secret_parameters=json.dumps(plan.secret_values) if plan.secret_values else None,
        target_spec=plan.target_spec,
        max_concurrency=plan.max_concurrency,
        max_errors=plan.max_errors,
        delivery_timeout_seconds=plan.delivery_timeout_seconds,
        execution_timeout_seconds=plan.execution_timeout_seconds,
        output_s3_bucket=plan.output_s3_bucket,
        output_s3_prefix=plan.output_s3_prefix,
        cloudwatch_log_group=plan.cloudwatch_log_group,
        comment=plan.comment,
        change_reference=plan.change_reference,
        status=ExecutionStatus.QUEUED.value,
        target_count=len(plan.targets),
        counts=dict(Counter(_initial_status(t) for t in plan.targets)),
        account_regions=sorted({t.account_region for t in plan.runnable}),
        requested_by=actor.name,
        requested_by_user_id=getattr(actor.principal, "user_id", None),
        rerun_of=rerun_of,
        rerun_kind=rerun_kind.value if rerun_kind is not None else None,
    )


def _batches_of(execution_id: int, plan: Plan) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The planned batches' rows (their other columns take the model's defaults: status
    ``planned``, no command yet), and each runnable instance's batch number."""
    groups: dict[tuple[str, str], list[PlannedTarget]] = defaultdict(list)
    for target in plan.runnable:
        groups[(target.account_id, target.region)].append(target)
    numbers: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    # A batch never holds more instances than the execution may run at once.
    size = min(BATCH_SIZE, plan.concurrency)
    for account_id, region in sorted(groups):
        members = groups[(account_id, region)]
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            number = len(rows) + 1
            rows.append(
                {
                    "execution_id": execution_id,
                    "number": number,
                    "account_id": account_id,
                    "region": region,
                    "instance_ids": [t.instance_id for t in chunk],
                }
            )
            numbers.update({t.instance_id: number for t in chunk})
    return rows, numbers


async def _add_targets(
    session: AsyncSession, execution_id: int, plan: Plan, numbers: dict[str, int]
) -> None:
    # Multi-row INSERTs, not an ORM object per instance: building and validating 2,000
    # SQLModel objects took most of the time of starting a large execution. A thousand
    # rows per statement, so that the rows in memory at once do not grow with the run.
    now = utcnow()
    table = cast(Any, AwsSrExecutionTarget).__table__
    for start in range(0, len(plan.targets), TARGETS_PER_INSERT):
        rows = [
            {
                "execution_id": execution_id,
                "instance_id": target.instance_id,
                "account_id": target.account_id,
                "region": target.region,
                "name": target.name,
                "batch_number": numbers.get(target.instance_id),
                "status": _initial_status(target),
                "status_details": "",
                "skip_reason": target.skip_reason,
                "exit_code": None,
                "stdout": "",
                "stderr": "",
                "stdout_truncated": False,
                "stderr_truncated": False,
                "output_url": None,
                "started_at": None,
                "ended_at": None,
                "updated_at": now,
            }
            for target in plan.targets[start : start + TARGETS_PER_INSERT]
        ]
        # Into the table (Core), not the model: the ORM's bulk path processed every row.
        await session.exec(insert(table), params=rows)


#: Targets written per INSERT when an execution starts.
TARGETS_PER_INSERT = 1000


_PENDING, _SKIPPED = InstanceStatus.PENDING.value, InstanceStatus.SKIPPED.value


def _initial_status(target: PlannedTarget) -> str:
    # The values read once: an enum member's ``.value`` is a property, called per target.
    return _PENDING if target.will_run else _SKIPPED


#: The most instance ids the start's audit record lists (``instance_count`` counts them
#: all; the execution's targets are kept with it, and ``targets`` says how they were chosen).
AUDIT_INSTANCE_IDS = 100


def _audit_details(plan: Plan) -> dict[str, Any]:
    """What the start's audit record says: the same size however large the fleet (it
    carried every instance id: about 1 MB at 50,000)."""
    runnable = plan.runnable
    return {
        "script_id": plan.script.id,
        "script": plan.script.name,
        "script_version": plan.version.number,
        "script_sha256": plan.version.sha256,
        "parameters": plan.shown_values,
        "targets": shown_target_spec(plan.target_spec),
        "instance_count": len(runnable),
        "instances": [t.instance_id for t in runnable[:AUDIT_INSTANCE_IDS]],
        "skipped": len(plan.skipped),
        "max_concurrency": plan.max_concurrency,
        "max_errors": plan.max_errors,
        "comment": plan.comment,
        "change_reference": plan.change_reference,
    }


async def launch(
    session: AsyncSession, execution: AwsSrExecution, *, settings: Settings | None = None
) -> str:
    """Commit ``session`` (the job runs in a transaction of its own and must find the
    execution and its targets), enqueue the execution's workflow, and record its job id in
    ``session`` (flushed; the caller's unit of work commits it). Idempotent: the job's key
    is the execution id.

    In a server or a worker the running job engine enqueues it. Elsewhere (the CLI), give
    ``settings``: the job is written to the jobs database, for a server or worker to run.
    """
    from pcm_ops.jobs import enqueue_async

    # The one commit a service makes: the hand-off to the job's own transaction.
    await session.commit()
    key = f"execution-{execution.id}"
    job_id = await enqueue_async(
        EXECUTION_WORKFLOW, execution.id, queue=EXECUTIONS_QUEUE, key=key, settings=settings
    )
    execution.job_id = job_id
    session.add(execution)
    await session.flush()
    return job_id
