"""The step that sends one batch's ``SendCommand``, exactly once in effect."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from contextlib import AsyncExitStack
from typing import Any

from dbos import DBOS
from sqlalchemy import func, update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import UNSENT_BATCHES, BatchStatus, InstanceStatus
from pcm_aws_script_runner.ids import execution_stream
from pcm_aws_script_runner.jobs.executions.commands import find_sent, render_command, send_arguments
from pcm_aws_script_runner.jobs.executions.records import (
    add_to_counts,
    batch_row,
    status_moves,
)
from pcm_aws_script_runner.jobs.runtime import runtime
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
    AwsSrScriptVersion,
)
from pcm_aws_script_runner.services.executions.starting import comment_stamp
from pcm_ops.db.types import utcnow
from pcm_ops.jobs import publish_async
from pcm_ops.logs import bind_log_context

__all__ = ["SENDS_AT_ONCE", "send_batch"]

logger = logging.getLogger("pcm_aws_script_runner.executions")

#: SendCommand steps that work at once in a process. Each has its own transactions: 200 at
#: once (10,000 instances at 100%) queued on the database's connection pool (5 + 10
#: overflow) and, on SQLite, its one writer, until one timed out waiting for a connection;
#: the calls to AWS are not what limits sending.
SENDS_AT_ONCE = 10
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _send_slots() -> asyncio.Semaphore:
    """The running event loop's slots for sending (a semaphore belongs to its loop)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(SENDS_AT_ONCE)
    return slots


@DBOS.step(name="aws-script-runner.send_batch", retries_allowed=True, max_attempts=3)
async def send_batch(execution_id: int, number: int) -> dict[str, Any]:
    """Send one batch's ``SendCommand``, at most once.

    Before calling AWS the batch is marked ``sending`` (committed). SendCommand goes through
    a client that never retries; when its outcome is unknown (5xx, timeout, reset,
    throttling), SSM is asked for a command whose comment carries the batch's stamp
    (``ListCommands`` since the execution was created, every page) before it is sent again,
    and a command found is adopted (see :func:`_send_once`). If this step runs again after
    a crash and finds the batch ``sending``, it looks the same way before anything else.
    """
    bind_log_context(execution_id=execution_id)
    async with _send_slots():
        return await _send_batch(execution_id, number)


async def _send_batch(execution_id: int, number: int) -> dict[str, Any]:
    rt = await runtime()
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        batch = await batch_row(session, execution_id, number)
        if execution is None or batch is None:
            raise LookupError(f"execution {execution_id} batch {number} is gone")
        if batch.status not in UNSENT_BATCHES:
            return {"status": str(batch.status), "command_id": batch.command_id}
        resumed = batch.status == BatchStatus.SENDING
        batch.status = BatchStatus.SENDING
        session.add(batch)
        command = await _command_of(session, execution)
        snapshot = _snapshot(execution, batch)
    stamp = comment_stamp(execution_id, number)
    command_id, error, adopted = await _send_once(
        rt, snapshot, send_arguments(snapshot, command, stamp), stamp, resumed=resumed
    )
    _log_outcome(execution_id, number, command_id, error, adopted)
    status, shown = await _record_outcome(rt, execution_id, number, command_id, error)
    data = {
        "number": number,
        "status": status,
        "command_id": command_id,
        "error": error,
        "adopted": adopted,
        **shown,
    }
    await publish_async(execution_stream(execution_id), "batch", data)
    return {
        "status": status,
        "command_id": command_id,
        "errors": 0 if command_id else len(snapshot["instance_ids"]),
    }


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


def _snapshot(execution: AwsSrExecution, batch: AwsSrExecutionBatch) -> dict[str, Any]:
    """What sending the batch needs, read before the session closes."""
    return {
        "account_id": batch.account_id,
        "region": batch.region,
        "instance_ids": list(batch.instance_ids),
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


async def _record_outcome(
    rt: Any, execution_id: int, number: int, command_id: str | None, error: str
) -> tuple[str, dict[str, Any]]:
    """Mark the batch sent (its instances ``Sent``) or failed (``Undeliverable``); return
    its status as plain text (step outputs are pickled: no class of this package) and
    what the page shows of it: when it was sent, and the execution's new counts."""
    now = utcnow()
    async with rt.database.session() as session:
        batch = await batch_row(session, execution_id, number)
        assert batch is not None
        if command_id is not None:
            batch.status, batch.command_id, batch.sent_at = BatchStatus.SENT, command_id, now
            new_status, details = InstanceStatus.SENT, ""
        else:
            batch.status, batch.error, batch.finished_at = BatchStatus.FAILED, error, now
            new_status, details = InstanceStatus.UNDELIVERABLE, error[:100]
        session.add(batch)
        before = await _statuses_of(session, execution_id, batch.instance_ids)
        await session.exec(
            update(AwsSrExecutionTarget)
            .where(
                col(AwsSrExecutionTarget.execution_id) == execution_id,
                # By the unique (execution, instance) index: batch_number has none, and
                # filtering on it read every target of the execution for each batch.
                col(AwsSrExecutionTarget.instance_id).in_(batch.instance_ids),
            )
            .values(status=new_status, status_details=details, updated_at=now)
        )
        moved = sum(before.values())
        counts = await add_to_counts(
            session, execution_id, status_moves(before, {new_status: moved})
        )
    sent_at = now.isoformat() if command_id is not None else None
    status = BatchStatus.SENT if command_id is not None else BatchStatus.FAILED
    return str(status), {"sent_at": sent_at, "counts": counts}


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
