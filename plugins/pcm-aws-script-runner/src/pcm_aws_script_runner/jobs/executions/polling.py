"""The step that polls an execution's running batches, writes what changed and publishes it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dbos import DBOS
from sqlalchemy import update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import (
    ERROR_STATUSES,
    RUNNING_BATCHES,
    TERMINAL_STATUSES,
    BatchStatus,
    ExecutionStatus,
)
from pcm_aws_script_runner.ids import execution_stream
from pcm_aws_script_runner.jobs.executions.records import update_counts
from pcm_aws_script_runner.jobs.executions.results import event_row, poll_batch
from pcm_aws_script_runner.jobs.runtime import runtime
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_ops.db.types import utcnow
from pcm_ops.jobs import publish_async

__all__ = ["poll"]

logger = logging.getLogger("pcm_aws_script_runner.executions")


@DBOS.step(name="aws-script-runner.poll_results", retries_allowed=True, max_attempts=5)
async def poll(execution_id: int, numbers: list[int]) -> dict[str, Any]:
    """Poll the running batches ``numbers``; write and publish what changed.

    :return: ``{"batches": {number: {"ended": n, "errors": n, "finished": bool}},
        "changed": n, "cancel": bool, "counts": {...}}``
    """
    rt = await runtime()
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        assert execution is not None
        snapshot = {
            "user": execution.requested_by,
            "bucket": execution.output_s3_bucket,
            "prefix": execution.output_s3_prefix,
            "log_group": execution.cloudwatch_log_group,
        }
        cancel = execution.cancel_requested_at is not None
        batches = await _sent_batches(session, execution_id, numbers)
    polled = await asyncio.gather(
        *(poll_batch(rt, snapshot, batch) for batch in batches), return_exceptions=True
    )
    summary: dict[str, Any] = {"batches": {}, "changed": 0, "cancel": cancel}
    changed_rows: dict[int, list[dict[str, Any]]] = {}
    async with rt.database.session() as session:
        for batch, results in zip(batches, polled, strict=True):
            number = batch["number"]
            if isinstance(results, BaseException):
                from pcm_aws_common.services.clients import aws_error

                # A read: the next poll asks again.
                code, message = aws_error(results)
                logger.warning(
                    "execution %s batch %s: polling failed: %s: %s",
                    execution_id,
                    number,
                    code,
                    message,
                )
                results = {}
            changed, summary["batches"][str(number)] = await _write_results(
                session, execution_id, number, results
            )
            if changed:
                changed_rows[number] = changed
        summary["changed"] = sum(len(rows) for rows in changed_rows.values())
        counts = await update_counts(session, execution_id)
    summary["counts"] = counts
    stream = execution_stream(execution_id)
    for number, rows in sorted(changed_rows.items()):
        await publish_async(stream, "instances", {"batch": number, "instances": rows})
    if changed_rows:
        await publish_async(
            stream,
            "execution",
            {
                "status": ExecutionStatus.CANCELLING if cancel else ExecutionStatus.RUNNING,
                "counts": counts,
            },
        )
    return summary


async def _sent_batches(
    session: Any, execution_id: int, numbers: list[int]
) -> list[dict[str, Any]]:
    """The batches ``numbers`` that have a command id, as :func:`poll_batch` takes them."""
    rows = (
        await session.exec(
            select(AwsSrExecutionBatch).where(
                AwsSrExecutionBatch.execution_id == execution_id,
                col(AwsSrExecutionBatch.number).in_(numbers),
            )
        )
    ).all()
    return [
        {
            "number": batch.number,
            "account_id": batch.account_id,
            "region": batch.region,
            "command_id": batch.command_id,
        }
        for batch in rows
        if batch.command_id
    ]


async def _write_results(
    session: Any, execution_id: int, number: int, results: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write one batch's changed results; mark it finished once every instance has ended.

    :return: the event rows of the instances that changed, and the batch's summary.
    """
    now = utcnow()
    targets = (
        await session.exec(
            select(AwsSrExecutionTarget).where(
                AwsSrExecutionTarget.execution_id == execution_id,
                AwsSrExecutionTarget.batch_number == number,
            )
        )
    ).all()
    changed = []
    for target in targets:
        result = results.get(target.instance_id)
        if result is None or target.status in TERMINAL_STATUSES:
            continue
        if all(getattr(target, key) == value for key, value in result.items()):
            continue
        for key, value in result.items():
            setattr(target, key, value)
        target.updated_at = now
        session.add(target)
        changed.append(event_row(target))
    ended = sum(t.status in TERMINAL_STATUSES for t in targets)
    errors = sum(t.status in ERROR_STATUSES for t in targets)
    finished = ended == len(targets)
    if finished:
        await session.exec(
            update(AwsSrExecutionBatch)
            .where(
                col(AwsSrExecutionBatch.execution_id) == execution_id,
                col(AwsSrExecutionBatch.number) == number,
                col(AwsSrExecutionBatch.status).in_(RUNNING_BATCHES),
            )
            .values(status=BatchStatus.FINISHED, finished_at=now)
        )
    return changed, {"ended": ended, "errors": errors, "finished": finished}
