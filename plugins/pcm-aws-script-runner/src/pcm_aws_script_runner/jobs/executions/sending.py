"""The step that sends a group of batches, each ``SendCommand`` exactly once in effect."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any

from dbos import DBOS
from sqlalchemy import func, update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import UNSENT_BATCHES, BatchStatus, InstanceStatus
from pcm_aws_script_runner.ids import execution_stream
from pcm_aws_script_runner.jobs.executions.commands import find_sent, render_command, send_arguments
from pcm_aws_script_runner.jobs.executions.records import add_to_counts, status_moves
from pcm_aws_script_runner.jobs.runtime import runtime
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
    AwsSrScriptVersion,
)
from pcm_aws_script_runner.services.executions.starting import comment_stamp
from pcm_ops.db.types import utcnow
from pcm_ops.jobs import publish_many_async
from pcm_ops.logs import bind_log_context

__all__ = ["GROUPS_AT_ONCE", "SEND_GROUP", "send_batches"]

logger = logging.getLogger("pcm_aws_script_runner.executions")

#: Batches one step sends: their SendCommands go out concurrently, and the group is marked
#: ``sending`` in one transaction and its outcomes recorded in another (one event publish
#: for them all). A step per batch cost two transactions, an event and DBOS's step records
#: per 50 instances: most of the application's CPU in a large fan-out.
SEND_GROUP = 10
#: Send steps that work at once in a process (``GROUPS_AT_ONCE`` x ``SEND_GROUP``
#: SendCommands in flight at most, within each account-region's own limit). Each has its
#: own transactions: hundreds at once queued on the connection pool and, on SQLite, its one
#: writer, until one timed out waiting for a connection.
GROUPS_AT_ONCE = 4
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _send_slots() -> asyncio.Semaphore:
    """The running event loop's slots for sending (a semaphore belongs to its loop)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(GROUPS_AT_ONCE)
    return slots


@DBOS.step(name="aws-script-runner.send_batches", retries_allowed=True, max_attempts=3)
async def send_batches(execution_id: int, numbers: list[int]) -> list[dict[str, Any]]:
    """Send the batches ``numbers`` (one ``SendCommand`` each, concurrently), each at most
    once; return each one's outcome, in order: ``{"status", "command_id", "errors",
    "sent_at", "ended_at"}`` (the last two: when its SendCommand answered and when the step
    ended, seconds since the epoch; ``None`` or absent when not sent by this run of it).

    Before calling AWS the group's unsent batches are marked ``sending`` (committed).
    SendCommand goes through a client that never retries; when its outcome is unknown
    (5xx, timeout, reset, throttling), SSM is asked for a command whose comment carries the
    batch's stamp (``ListCommands`` since the execution was created, every page) before it
    is sent again, and a command found is adopted (see :func:`_send_once`). The outcomes
    known are recorded together; when a batch's could not be settled (SSM could not even
    be asked), the step fails after recording the others and is retried: the retry skips
    the batches recorded, finds that one ``sending`` and looks before anything else, as a
    run of this step after a crash does.
    """
    bind_log_context(execution_id=execution_id)
    async with _send_slots():
        return await _send_group(execution_id, numbers)


async def _send_group(execution_id: int, numbers: list[int]) -> list[dict[str, Any]]:
    rt = await runtime()
    answers: dict[int, dict[str, Any]] = {}
    to_send: list[tuple[int, bool, list[str], str, str]] = []
    command: str = ""
    snapshot: dict[str, Any] = {}
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        batches = await _batch_rows(session, execution_id, numbers)
        if execution is None or len(batches) != len(set(numbers)):
            missing = sorted(set(numbers) - set(batches))
            raise LookupError(f"execution {execution_id} batches {missing} are gone")
        for number in numbers:
            batch = batches[number]
            if batch.status not in UNSENT_BATCHES:
                answers[number] = _answer(str(batch.status), batch.command_id, batch)
                continue
            to_send.append(
                (
                    number,
                    batch.status == BatchStatus.SENDING,
                    list(batch.instance_ids),
                    batch.account_id,
                    batch.region,
                )
            )
            batch.status = BatchStatus.SENDING
            session.add(batch)
        if to_send:
            command = await _command_of(session, execution)
            snapshot = _snapshot(execution)
    if not to_send:
        return [answers[number] for number in numbers]
    sent = await asyncio.gather(
        *(
            _send_one(rt, execution_id, snapshot, command, number, resumed, ids, account, region)
            for number, resumed, ids, account, region in to_send
        ),
        return_exceptions=True,
    )
    settled: dict[int, tuple[str | None, str, bool]] = {}
    answered_at: dict[int, float] = {}
    unsettled: list[BaseException] = []
    for (number, *_rest), outcome in zip(to_send, sent, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome  # cancelled, interrupted: nothing else is safe to do
            logger.warning(
                "execution %s batch %s: outcome not known yet, the step will look again: %s: %s",
                execution_id,
                number,
                type(outcome).__name__,
                outcome,
            )
            unsettled.append(outcome)
        else:
            command_id, error, adopted, answered_at[number] = outcome
            settled[number] = (command_id, error, adopted)
    if settled:
        recorded, counts = await _record_outcomes(rt, execution_id, settled)
        events = []
        for number, (status, command_id, error, adopted, sent_at, size) in recorded.items():
            answers[number] = {
                "status": status,
                "command_id": command_id,
                "errors": 0 if command_id else size,
                "sent_at": answered_at[number] if command_id else None,
            }
            events.append(
                (
                    "batch",
                    {
                        "number": number,
                        "status": status,
                        "command_id": command_id,
                        "error": error,
                        "adopted": adopted,
                        "sent_at": sent_at,
                        "counts": counts,
                    },
                )
            )
        await publish_many_async(execution_stream(execution_id), events)
    if unsettled:
        raise unsettled[0]
    # When the step ended, beside when each SendCommand answered (seconds since the epoch):
    # the workflow times its first poll from them (recorded, so a replay decides the same).
    ended_at = time.time()
    return [{**answers[number], "ended_at": ended_at} for number in numbers]


def _answer(status: str, command_id: str | None, batch: AwsSrExecutionBatch) -> dict[str, Any]:
    errors = len(batch.instance_ids) if status == BatchStatus.FAILED else 0
    return {"status": status, "command_id": command_id, "errors": errors}


async def _batch_rows(
    session: Any, execution_id: int, numbers: list[int]
) -> dict[int, AwsSrExecutionBatch]:
    rows = (
        await session.exec(
            select(AwsSrExecutionBatch).where(
                AwsSrExecutionBatch.execution_id == execution_id,
                col(AwsSrExecutionBatch.number).in_(numbers),
            )
        )
    ).all()
    return {row.number: row for row in rows}


async def _send_one(
    rt: Any,
    execution_id: int,
    snapshot: dict[str, Any],
    command: str,
    number: int,
    resumed: bool,
    instance_ids: list[str],
    account_id: str,
    region: str,
) -> tuple[str | None, str, bool, float]:
    """``(command id, error, adopted, when the outcome was known)``."""
    stamp = comment_stamp(execution_id, number)
    batch = {**snapshot, "account_id": account_id, "region": region, "instance_ids": instance_ids}
    command_id, error, adopted = await _send_once(
        rt, batch, send_arguments(batch, command, stamp), stamp, resumed=resumed
    )
    _log_outcome(execution_id, number, command_id, error, adopted)
    return command_id, error, adopted, time.time()


async def _command_of(session: Any, execution: AwsSrExecution) -> str:
    """The script as SSM runs it, parameters (secrets included) in their declared order."""
    secrets = json.loads(execution.secret_parameters) if execution.secret_parameters else {}
    version = (
        await session.exec(
            select(AwsSrScriptVersion).where(
                AwsSrScriptVersion.script_id == execution.script_id,
                AwsSrScriptVersion.number == execution.script_version,
            )
        )
    ).one()
    values = {**execution.parameters, **secrets}
    # Declared order, as validated.
    ordered = {
        spec["name"]: values[spec["name"]] for spec in version.parameters if spec["name"] in values
    }
    return render_command(execution.language, version.body, ordered)


def _snapshot(execution: AwsSrExecution) -> dict[str, Any]:
    """What sending the execution's batches needs, read before the session closes."""
    return {
        "document": execution.document_name,
        "delivery": execution.delivery_timeout_seconds,
        "timeout": execution.execution_timeout_seconds,
        "bucket": execution.output_s3_bucket,
        "prefix": execution.output_s3_prefix,
        "log_group": execution.cloudwatch_log_group,
        "user": execution.requested_by,
        "comment": execution.comment,
        "created_at": execution.created_at,
    }


def _log_outcome(
    execution_id: int, number: int, command_id: str | None, error: str, adopted: bool
) -> None:
    if adopted:
        logger.info(
            "execution %s batch %s: adopting command %s, which SSM ran although its answer "
            "was lost (or sent before a restart)",
            execution_id,
            number,
            command_id,
        )
    elif error:
        logger.warning("execution %s batch %s: %s", execution_id, number, error)


async def _record_outcomes(
    rt: Any, execution_id: int, settled: dict[int, tuple[str | None, str, bool]]
) -> tuple[dict[int, tuple[str, str | None, str, bool, str | None, int]], dict[str, int]]:
    """Mark each batch of ``settled`` (``number: (command id, error, adopted)``) sent (its
    instances ``Sent``) or failed (``Undeliverable``), in one transaction; return per batch
    ``(status as plain text, command id, error, adopted, sent at, size)`` (step outputs are
    pickled: no class of this package) and the execution's new counts."""
    now = utcnow()
    recorded: dict[int, tuple[str, str | None, str, bool, str | None, int]] = {}
    async with rt.database.session() as session:
        batches = await _batch_rows(session, execution_id, list(settled))
        sent_ids: list[str] = []
        failed: list[tuple[list[str], str]] = []
        for number, (command_id, error, adopted) in settled.items():
            batch = batches[number]
            if command_id is not None:
                batch.status, batch.command_id, batch.sent_at = BatchStatus.SENT, command_id, now
                sent_ids.extend(batch.instance_ids)
                status, sent_at = BatchStatus.SENT, now.isoformat()
            else:
                batch.status, batch.error, batch.finished_at = BatchStatus.FAILED, error, now
                failed.append((list(batch.instance_ids), error[:100]))
                status, sent_at = BatchStatus.FAILED, None
            session.add(batch)
            recorded[number] = (
                str(status),
                command_id,
                error,
                adopted,
                sent_at,
                len(batch.instance_ids),
            )
        every_id = sent_ids + [i for ids, _details in failed for i in ids]
        before = await _statuses_of(session, execution_id, every_id)
        after: Counter[str] = Counter()
        if sent_ids:
            after[InstanceStatus.SENT] += await _set_status(
                session, execution_id, sent_ids, InstanceStatus.SENT, "", now
            )
        for ids, details in failed:
            after[InstanceStatus.UNDELIVERABLE] += await _set_status(
                session, execution_id, ids, InstanceStatus.UNDELIVERABLE, details, now
            )
        counts = await add_to_counts(session, execution_id, status_moves(before, after))
    return recorded, counts


async def _set_status(
    session: Any,
    execution_id: int,
    instance_ids: list[str],
    status: InstanceStatus,
    details: str,
    now: Any,
) -> int:
    """Give these targets of the execution ``status``; return how many rows changed."""
    result = await session.exec(
        update(AwsSrExecutionTarget)
        .where(
            col(AwsSrExecutionTarget.execution_id) == execution_id,
            # By the unique (execution, instance) index: batch_number has none, and
            # filtering on it read every target of the execution for each batch.
            col(AwsSrExecutionTarget.instance_id).in_(instance_ids),
        )
        .values(status=status, status_details=details, updated_at=now)
    )
    return int(result.rowcount or 0)


async def _statuses_of(session: Any, execution_id: int, instance_ids: list[str]) -> dict[str, int]:
    """How many of these targets of the execution have each status (by the unique
    (execution, instance) index: only the batch's rows are read)."""
    rows = (
        await session.exec(
            select(AwsSrExecutionTarget.status, func.count())
            .where(
                AwsSrExecutionTarget.execution_id == execution_id,
                col(AwsSrExecutionTarget.instance_id).in_(instance_ids),
            )
            .group_by(AwsSrExecutionTarget.status)
        )
    ).all()
    return {str(status): int(n) for status, n in rows}


async def _send_once(
    rt: Any, snapshot: dict[str, Any], arguments: dict[str, Any], stamp: str, *, resumed: bool
) -> tuple[str | None, str, bool]:
    """Make the batch's SendCommand at most once in effect: ``(command id, error, adopted)``.

    SendCommand has no idempotency token, so it goes through a client that never retries,
    and a failure whose outcome is unknown (5xx, timeout, reset, throttling) is resolved by
    asking SSM for a command with the batch's stamp before sending again; a command found
    is adopted. A refusal (a 4xx that SSM documents as "not processed") is recorded as the
    batch's error, and so is the client factory's refusal (an account not in the registry,
    a region not enabled, a role AWS refuses to let us assume). When SSM cannot even be
    asked (:class:`OutcomeUnknown`), or the client cannot be made for a reason that may
    pass (the database timed out, STS could not be reached), the exception propagates: the
    step is retried, finds the batch ``sending`` and looks first. Nothing was sent in the
    second case, so nothing is recorded against the batch.
    """
    from pcm_aws_common.services.clients import aws_error
    from pcm_aws_common.services.errors import AwsAccessError
    from pcm_aws_common.services.once import (
        CallNotMade,
        CallRefused,
        call_at_most_once,
        outcome_unknown,
    )

    target = {
        "account": snapshot["account_id"],
        "region": snapshot["region"],
        "user": snapshot["user"],
    }

    async def find() -> str | None:  # a read: its client keeps botocore's retries
        async with rt.aws.client("ssm", **target) as reader:
            return await find_sent(reader, stamp, snapshot["created_at"])

    async with AsyncExitStack() as stack:
        try:
            sender = await stack.enter_async_context(
                rt.aws.client("ssm", **target, idempotent=False)
            )
        except AwsAccessError as exc:
            cause = exc.__cause__ or exc.__context__
            if cause is not None and outcome_unknown(cause):
                raise  # STS could not be reached, or failed: worth another try
            # The factory refused: account, region, credentials or role.
            code, message = aws_error(exc)
            return None, f"SendCommand not sent: {code}: {message}"[:2000], False
        # Any other failure before the client exists (a database that times out, a network
        # error) sent nothing and tells nothing about the batch: it propagates, the step is
        # retried, and the retry finds the batch ``sending`` and looks before it sends.

        async def send() -> str:
            response = await sender.send_command(**arguments)
            return str(response["Command"]["CommandId"])

        try:
            sent = await call_at_most_once(
                send,
                find,
                attempts=rt.config.send_attempts,
                backoff=rt.config.send_retry_seconds,
                look_first=resumed,
            )
        except CallRefused as exc:
            return None, f"SendCommand refused: {exc.code}: {exc.message}"[:2000], False
        except CallNotMade as exc:
            tries = len(exc.unknown)
            return (
                None,
                f"SendCommand failed {tries} time{'s' if tries != 1 else ''} ({exc.code}: "
                f"{exc.message}) and SSM has no command for the batch: not sent"[:2000],
                False,
            )
    return sent.value, "", sent.adopted
