"""The step that polls an execution's running batches, writes what changed and publishes it."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from types import SimpleNamespace
from typing import Any, cast

from dbos import DBOS
from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import (
    ERROR_STATUSES,
    RUNNING_BATCHES,
    TERMINAL_STATUSES,
    BatchStatus,
    ExecutionStatus,
)
from pcm_aws_script_runner.ids import execution_stream
from pcm_aws_script_runner.jobs.executions.records import (
    add_to_counts,
    cancel_requested,
    stored_counts,
)
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
    summary: dict[str, Any] = {"batches": {}, "changed": 0, "cancel": cancel}
    stream = execution_stream(execution_id)
    counts: dict[str, int] | None = None
    changed_any = False

    reading = asyncio.Semaphore(READS_AT_ONCE)

    async def read(batch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        try:
            async with reading:
                return batch, await poll_batch(rt, snapshot, batch)
        except Exception as exc:  # a read: the next poll asks again
            from pcm_aws_common.services.clients import aws_error

            code, message = aws_error(exc)
            logger.warning(
                "execution %s batch %s: polling failed: %s: %s",
                execution_id,
                batch["number"],
                code,
                message,
            )
            return batch, {}

    # The answers are written as they come, WRITE_AT_LEAST batches (or what is left) in one
    # transaction, while the other reads are still out: the writing overlaps the waiting
    # instead of following it. Each write is safe to repeat (a retry of this
    # step reads and compares again), and publishes its events in one go.
    pending = {asyncio.ensure_future(read(batch)) for batch in batches}
    try:
        while pending:
            done: set[asyncio.Future[Any]] = set()
            while pending and len(done) < WRITE_AT_LEAST:
                more, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                done |= more
            answered = sorted((task.result() for task in done), key=lambda a: a[0]["number"])
            async with rt.database.session() as session:
                changed_rows, batch_summaries, delta = await _write_results(
                    session,
                    execution_id,
                    [batch for batch, _results in answered],
                    [results for _batch, results in answered],
                )
                counts = await add_to_counts(session, execution_id, delta)
            summary["batches"].update(batch_summaries)
            summary["changed"] += sum(len(rows) for rows in changed_rows.values())
            changed_any = changed_any or bool(changed_rows)
            events: list[tuple[str, Any]] = [
                ("instances", {"batch": number, "instances": rows})
                for number, rows in sorted(changed_rows.items())
            ]
            events += [
                ("batch", {"number": int(key), "status": BatchStatus.FINISHED})
                for key, batch_summary in batch_summaries.items()
                if batch_summary["finished"]  # the page shows each batch's status
            ]
            await publish_many_async(stream, events)
    finally:
        for task in pending:
            task.cancel()
    if counts is None:  # nothing to read (only a cancel check)
        async with rt.database.session() as session:
            counts = await stored_counts(session, execution_id)
    summary["counts"] = counts
    if changed_any or cancel:  # while cancelling, the page learns who asked and when
        await publish_many_async(
            stream,
            [
                (
                    "execution",
                    {
                        "status": ExecutionStatus.CANCELLING if cancel else ExecutionStatus.RUNNING,
                        "counts": counts,
                        **cancel_fields,
                    },
                )
            ],
        )
    # Numbers in the order asked (the workflow reads them by key).
    summary["batches"] = {
        str(batch["number"]): summary["batches"][str(batch["number"])] for batch in batches
    }
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


#: Batches a poll reads at once. Their answers (up to 50 invocations with output each) are
#: held until written: every running batch read at once made a poll's memory grow with
#: the execution (hundreds of pages in flight at 20,000 instances). 20 keep the loop busy
#: (parsing and writing a page costs more than its 50 ms round trip); 40, once AWS
#: answered them all at once, left the process 20 MiB larger (20,000 / 100: peak 308 MiB
#: against 280 MiB, wall the same).
READS_AT_ONCE = 20
#: Batches whose answers a poll writes together (fewer when the last ones come in).
WRITE_AT_LEAST = 20
#: Targets read per statement (bound parameters of one ``IN``).
READ_CHUNK = 500


async def _write_results(
    session: Any,
    execution_id: int,
    batches: list[dict[str, Any]],
    answers: list[dict[str, dict[str, Any]]],
) -> tuple[dict[int, list[dict[str, Any]]], dict[str, dict[str, Any]], Counter[str]]:
    """Write the polled batches' changed results; mark those finished whose every instance
    has ended.

    The batches' targets are read as plain rows by the unique (execution, instance) index,
    ``READ_CHUNK`` at a time (no ORM object per target, no scan of the execution's other
    batches); the changed ones are written with one executemany ``UPDATE`` by primary key
    and the finished batches with one ``UPDATE``: a few statements per poll, however many
    batches it read.

    :return: the event rows of the instances that changed, per batch; each batch's summary
        (``ended``, ``errors``, ``finished``) by number as text; the change in the
        execution's counts per status.
    """
    now = utcnow()
    table = cast(Any, AwsSrExecutionTarget).__table__
    results_of: dict[str, dict[str, Any]] = {}
    batch_of: dict[str, int] = {}
    for batch, results in zip(batches, answers, strict=True):
        for instance_id in batch["instance_ids"]:
            batch_of[instance_id] = batch["number"]
        results_of.update(results)
    columns = [table.c[name] for name in RESULT_FIELDS]
    wanted = list(batch_of)
    rows: list[Any] = []
    for start in range(0, len(wanted), READ_CHUNK):
        rows += (
            await session.exec(
                sa_select(
                    table.c.id,
                    table.c.instance_id,
                    table.c.account_id,
                    table.c.region,
                    table.c.name,
                    *columns,
                ).where(
                    table.c.execution_id == execution_id,
                    table.c.instance_id.in_(wanted[start : start + READ_CHUNK]),
                )
            )
        ).all()
    changed: dict[int, list[dict[str, Any]]] = {}
    updates: list[dict[str, Any]] = []
    tally = {batch["number"]: [0, 0, 0] for batch in batches}  # rows, ended, errors
    moves: Counter[str] = Counter()
    for row in rows:
        current = dict(zip(RESULT_FIELDS, row[5:], strict=True))
        number = batch_of[row[1]]
        result = results_of.get(row[1])
        if (
            result is not None
            and current["status"] not in TERMINAL_STATUSES
            and any(current[key] != value for key, value in result.items())
        ):
            if result["status"] != current["status"]:
                moves[str(current["status"])] -= 1
                moves[str(result["status"])] += 1
            current.update(result)
            updates.append({"row_id": row[0], **result, "updated_at": now})
            changed.setdefault(number, []).append(
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
        counts = tally[number]
        counts[0] += 1
        counts[1] += current["status"] in TERMINAL_STATUSES
        counts[2] += current["status"] in ERROR_STATUSES
    if updates:
        await session.exec(
            sa_update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(name) for name in (*RESULT_FIELDS, "updated_at")}),
            params=updates,
        )
    summaries = {
        str(number): {"ended": ended, "errors": errors, "finished": ended == size}
        for number, (size, ended, errors) in tally.items()
    }
    finished = [number for number, (size, ended, _errors) in tally.items() if ended == size]
    if finished:
        await session.exec(
            update(AwsSrExecutionBatch)
            .where(
                col(AwsSrExecutionBatch.execution_id) == execution_id,
                col(AwsSrExecutionBatch.number).in_(finished),
                col(AwsSrExecutionBatch.status).in_(RUNNING_BATCHES),
            )
            .values(status=BatchStatus.FINISHED, finished_at=now)
        )
    return changed, summaries, moves
