"""The steps that begin an execution, hold back batches not yet sent, cancel a running
batch, and finish the execution with its final status."""

from __future__ import annotations

import logging
from typing import Any

from dbos import DBOS
from sqlalchemy import update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import (
    ERROR_STATUSES,
    FINISHED,
    BatchStatus,
    ExecutionStatus,
    InstanceStatus,
)
from pcm_aws_script_runner.ids import execution_stream
from pcm_aws_script_runner.jobs.executions.records import (
    batch_row,
    cancel_requested,
    hold_planned,
    stored_counts,
)
from pcm_aws_script_runner.jobs.runtime import runtime
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
)
from pcm_aws_script_runner.observability import record_finished
from pcm_aws_script_runner.services.executions.options import absolute_limit
from pcm_ops.db.types import utcnow
from pcm_ops.jobs import publish_async
from pcm_ops.logs import bind_log_context

__all__ = ["begin", "cancel_batch", "finish", "hold_batches"]

logger = logging.getLogger("pcm_aws_script_runner.executions")


@DBOS.step(name="aws-script-runner.begin_execution", retries_allowed=True, max_attempts=5)
async def begin(execution_id: int) -> dict[str, Any]:
    """Mark the execution running; return its plan (batches, limits, options)."""
    bind_log_context(execution_id=execution_id)
    rt = await runtime()
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        if execution is None:
            raise LookupError(f"execution {execution_id} is not in the database (yet)")
        batches = (
            await session.exec(
                select(AwsSrExecutionBatch)
                .where(AwsSrExecutionBatch.execution_id == execution_id)
                .order_by(col(AwsSrExecutionBatch.number))
            )
        ).all()
        runnable = sum(len(batch.instance_ids) for batch in batches)
        if execution.status == ExecutionStatus.QUEUED:
            execution.status = ExecutionStatus.RUNNING
            execution.started_at = utcnow()
            session.add(execution)
        # What the page shows of it (a run cancelled while queued is cancelling already).
        shown = {
            "status": str(execution.status),
            "started_at": execution.started_at.isoformat() if execution.started_at else None,
        }
        plan = {
            "finished": execution.status in FINISHED,
            "cancel": execution.cancel_requested_at is not None,
            "concurrency": absolute_limit(execution.max_concurrency, runnable, minimum=1),
            "error_budget": absolute_limit(execution.max_errors, runnable, minimum=0),
            "max_errors": execution.max_errors,
            "poll": rt.config.poll_interval_seconds,
            "max_poll": rt.config.max_poll_interval_seconds,
            "batches": [
                {
                    "number": batch.number,
                    "account_region": f"{batch.account_id}:{batch.region}",
                    "size": len(batch.instance_ids),
                    "status": str(batch.status),
                    "command_id": batch.command_id,
                }
                for batch in batches
            ],
        }
    await publish_async(execution_stream(execution_id), "execution", shown)
    return plan


@DBOS.step(name="aws-script-runner.hold_batches", retries_allowed=True, max_attempts=5)
async def hold_batches(execution_id: int, numbers: list[int], reason: str) -> int:
    """Mark planned batches ``not_sent`` and their instances ``NotSent`` with ``reason``."""
    rt = await runtime()
    async with rt.database.session() as session:
        counts = await hold_planned(session, execution_id, reason, numbers)
    await publish_async(
        execution_stream(execution_id),
        "execution",
        {"held": numbers, "reason": reason, "counts": counts},
    )
    return len(numbers)


@DBOS.step(name="aws-script-runner.cancel_batch", retries_allowed=True, max_attempts=5)
async def cancel_batch(execution_id: int, number: int) -> str:
    """``CancelCommand`` for one running batch (cancelling twice is harmless)."""
    rt = await runtime()
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        batch = await batch_row(session, execution_id, number)
        assert execution is not None
        assert batch is not None
        if batch.status != BatchStatus.SENT or not batch.command_id:
            return str(batch.status)
        account_id, region, command_id = batch.account_id, batch.region, batch.command_id
        user = execution.cancel_requested_by or execution.requested_by
    try:
        async with rt.aws.client("ssm", account=account_id, region=region, user=user) as ssm:
            await ssm.cancel_command(CommandId=command_id)
    except Exception as exc:
        from pcm_aws_common.services.clients import aws_error
        from pcm_aws_common.services.once import outcome_unknown

        if outcome_unknown(exc):
            raise  # the step is retried: cancelling a command twice is harmless
        code, message = aws_error(exc)
        logger.warning(
            "execution %s batch %s: CancelCommand refused: %s: %s",
            execution_id,
            number,
            code,
            message,
        )
        return "cancel-refused"
    async with rt.database.session() as session:
        await session.exec(
            update(AwsSrExecutionBatch)
            .where(
                col(AwsSrExecutionBatch.execution_id) == execution_id,
                col(AwsSrExecutionBatch.number) == number,
                col(AwsSrExecutionBatch.status) == BatchStatus.SENT,
            )
            .values(status=BatchStatus.CANCELLED)
        )
    await publish_async(
        execution_stream(execution_id),
        "batch",
        {"number": number, "status": BatchStatus.CANCELLED, "command_id": command_id},
    )
    return BatchStatus.CANCELLED.value


@DBOS.step(name="aws-script-runner.finish_execution", retries_allowed=True, max_attempts=5)
async def finish(execution_id: int, reason: str) -> dict[str, Any]:
    """Set the final status from the instances' results.

    Three short steps, none of which holds a write transaction while another one is
    opened (SQLite has a single writer): the counts are read (each step kept them as it
    changed targets); the final event is
    published, so that a stream which sees the run finished has this event to send
    before its end; then the status commits. A retry after a crash between the last
    two publishes nothing twice (the event's key is the step's).
    """
    bind_log_context(execution_id=execution_id)
    rt = await runtime()
    async with rt.database.session() as session:
        counts = await stored_counts(session, execution_id)
        execution = await session.get(AwsSrExecution, execution_id)
        assert execution is not None
        await session.refresh(execution)
        cancel_requested_by = execution.cancel_requested_by
        cancel_requested_at = execution.cancel_requested_at
        cancelled = cancel_requested_at is not None
        started_at = execution.started_at
    errors = sum(n for status, n in counts.items() if status in ERROR_STATUSES)
    status: str
    if cancelled:
        status = ExecutionStatus.CANCELLED.value
        reason = reason or f"cancelled by {cancel_requested_by}"
    elif errors or counts.get(InstanceStatus.NOT_SENT) or counts.get(InstanceStatus.CANCELLED):
        status = ExecutionStatus.FAILED.value
        reason = reason or f"{errors} of {sum(counts.values())} instances failed"
    else:
        status = ExecutionStatus.SUCCEEDED.value
    result = {"status": status, "reason": reason, "counts": counts}
    finished_at = utcnow()  # the event says when, as the row will
    event = {**result, "finished_at": finished_at.isoformat()}
    if cancel_requested_at is not None:  # the page shows who asked and when
        event.update(cancel_requested(cancel_requested_by, cancel_requested_at))
    await publish_async(execution_stream(execution_id), "execution", event)
    async with rt.database.session() as session:
        await session.exec(
            update(AwsSrExecution)
            .where(col(AwsSrExecution.id) == execution_id)
            .values(status=status, status_reason=reason[:500], finished_at=finished_at)
        )
    record_finished(status, started_at, finished_at)
    logger.info("execution %s %s%s", execution_id, status, f": {reason}" if reason else "")
    return result
