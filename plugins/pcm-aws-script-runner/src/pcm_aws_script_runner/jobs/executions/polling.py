"""The step that polls an execution's running batches, writes what changed and publishes it."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from types import SimpleNamespace
from typing import Any, cast

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
from pcm_aws_script_runner.jobs.executions.records import add_to_counts, cancel_requested
from pcm_aws_script_runner.jobs.executions.results import event_row, poll_batch
from pcm_aws_script_runner.jobs.runtime import runtime
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_ops.db.types import utcnow
from pcm_ops.jobs import publish_many_async
from pcm_ops.logs import bind_log_context

__all__ = ["poll"]

logger = logging.getLogger("pcm_aws_script_runner.executions")

#: The target's columns that a poll writes (the keys of :func:`poll_batch`'s results).
RESULT_FIELDS = (
    "status",
    "status_details",
    "exit_code",
    "stdout",
    "stderr",
    "stdout_truncated",
    "stderr_truncated",
    "output_url",
    "started_at",
    "ended_at",
)


@DBOS.step(name="aws-script-runner.poll_results", retries_allowed=True, max_attempts=5)
async def poll(execution_id: int, numbers: list[int]) -> dict[str, Any]:
    """Poll the running batches ``numbers``; write and publish what changed.

    :return: ``{"batches": {number: {"ended": n, "errors": n, "finished": bool}},
        "changed": n, "cancel": bool, "counts": {...}}``
    """
    bind_log_context(execution_id=execution_id)
    rt = await runtime()
    async with rt.database.session() as session:
        # The columns a poll needs, not the whole row (its parameters, targets and counts
        # are JSON, decoded on every load).
        execution: Any = (
            await session.exec(
                select(  # type: ignore[call-overload,misc]  # sqlmodel: up to four columns
                    AwsSrExecution.requested_by,
                    AwsSrExecution.output_s3_bucket,
                    AwsSrExecution.output_s3_prefix,
                    AwsSrExecution.cloudwatch_log_group,
                    AwsSrExecution.cancel_requested_at,
                    AwsSrExecution.cancel_requested_by,
                ).where(AwsSrExecution.id == execution_id)
            )
        ).one()
        snapshot = {
            "user": execution.requested_by,
            "bucket": execution.output_s3_bucket,
            "prefix": execution.output_s3_prefix,
            "log_group": execution.cloudwatch_log_group,
        }
        cancel = execution.cancel_requested_at is not None
        cancel_fields = (
            cancel_requested(execution.cancel_requested_by, execution.cancel_requested_at)
            if execution.cancel_requested_at is not None
            else {}
        )
        batches = await _sent_batches(session, execution_id, numbers)
    polled = await asyncio.gather(
        *(poll_batch(rt, snapshot, batch) for batch in batches), return_exceptions=True
    )
    summary: dict[str, Any] = {"batches": {}, "changed": 0, "cancel": cancel}
    changed_rows: dict[int, list[dict[str, Any]]] = {}
    delta: Counter[str] = Counter()
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
            changed, summary["batches"][str(number)], moves = await _write_results(
                session, execution_id, batch, results
            )
            delta.update(moves)
            if changed:
                changed_rows[number] = changed
        summary["changed"] = sum(len(rows) for rows in changed_rows.values())
        counts = await add_to_counts(session, execution_id, delta)
    summary["counts"] = counts
    # Every event of the poll in one transaction (one per event cost most of a poll's time).
    events: list[tuple[str, Any]] = [
        ("instances", {"batch": number, "instances": rows})
        for number, rows in sorted(changed_rows.items())
    ]
    events += [
        ("batch", {"number": int(key), "status": BatchStatus.FINISHED})
        for key, batch_summary in summary["batches"].items()
        if batch_summary["finished"]  # the page shows each batch's status
    ]
    if changed_rows or cancel:  # while cancelling, the page learns who asked and when
        events.append(
            (
                "execution",
                {
                    "status": ExecutionStatus.CANCELLING if cancel else ExecutionStatus.RUNNING,
                    "counts": counts,
                    **cancel_fields,
                },
            )
        )
    await publish_many_async(execution_stream(execution_id), events)
    return summary


async def _sent_batches(
    session: Any, execution_id: int, numbers: list[int]
) -> list[dict[str, Any]]:
    """The batches ``numbers`` that have a command id, as :func:`poll_batch` takes them
    (columns, not ORM objects)."""
    rows = (
        await session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel types up to four columns
                AwsSrExecutionBatch.number,
                AwsSrExecutionBatch.account_id,
                AwsSrExecutionBatch.region,
                AwsSrExecutionBatch.command_id,
                AwsSrExecutionBatch.instance_ids,
            ).where(
                AwsSrExecutionBatch.execution_id == execution_id,
                col(AwsSrExecutionBatch.number).in_(numbers),
            )
        )
    ).all()
    return [
        {
            "number": number,
            "account_id": account_id,
            "region": region,
            "command_id": command_id,
            "instance_ids": instance_ids,
        }
        for number, account_id, region, command_id, instance_ids in rows
        if command_id
    ]


async def _write_results(
    session: Any, execution_id: int, batch: dict[str, Any], results: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any], Counter[str]]:
    """Write one batch's changed results; mark it finished once every instance has ended.

    The batch's targets are read as plain rows by the unique (execution, instance) index
    (no ORM object per target, no scan of the execution's other batches), and the changed
    ones are written with one executemany UPDATE by primary key.

    :return: the event rows of the instances that changed, the batch's summary, and the
        change in the execution's counts per status.
    """
    number = batch["number"]
    now = utcnow()
    target = AwsSrExecutionTarget
    columns = [col(getattr(target, name)) for name in RESULT_FIELDS]
    rows = (
        await session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel types up to four columns
                col(target.id),
                col(target.instance_id),
                col(target.account_id),
                col(target.region),
                col(target.name),
                *columns,
            ).where(
                col(target.execution_id) == execution_id,
                col(target.instance_id).in_(batch["instance_ids"]),
            )
        )
    ).all()
    changed: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    ended = errors = 0
    moves: Counter[str] = Counter()
    for row in rows:
        current = dict(zip(RESULT_FIELDS, row[5:], strict=True))
        result = results.get(row[1])
        if (
            result is not None
            and current["status"] not in TERMINAL_STATUSES
            and any(current[key] != value for key, value in result.items())
        ):
            if result["status"] != current["status"]:
                moves[str(current["status"])] -= 1
                moves[str(result["status"])] += 1
            current.update(result)
            updates.append({"id": row[0], **result, "updated_at": now})
            changed.append(
                event_row(  # the row's columns by name, as the model's attributes
                    cast(Any, SimpleNamespace)(
                        instance_id=row[1],
                        account_id=row[2],
                        region=row[3],
                        name=row[4],
                        **current,
                    )
                )
            )
        ended += current["status"] in TERMINAL_STATUSES
        errors += current["status"] in ERROR_STATUSES
    if updates:
        await session.exec(update(target), params=updates)
    finished = ended == len(rows)
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
    return changed, {"ended": ended, "errors": errors, "finished": finished}, moves
