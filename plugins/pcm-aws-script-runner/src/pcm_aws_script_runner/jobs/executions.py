"""The durable workflow of an execution: ``aws-script-runner.execute``.

One workflow per execution, enqueued by :func:`pcm_aws_script_runner.services.executions.launch`.
It loops:

1. decide, from what earlier steps returned (never from the clock or the database
   directly, so that a replay after a crash takes the same path), which planned batches
   may be sent now: the execution's max concurrency counts the instances still running
   across *all* its batches, and once more instances have failed than its max errors
   allows, no further batch is sent;
2. send them, concurrently, each ``SendCommand`` a step of its own (see :func:`send_batch`
   for how a crash between the call and its checkpoint never sends a batch twice);
3. wait (a durable sleep that grows while nothing changes), then poll every running batch
   in one step: ``ListCommandInvocations`` pages with details, ``GetCommandInvocation``
   only for output that the list truncated; changed results are written and published to
   the execution's event stream;
4. on a cancel request: mark the batches not yet sent, and ``CancelCommand`` every running
   batch, each a step.

Results and events go to the stream ``aws-script-runner:execution:<id>``: ``batch`` (sent,
failed to send, cancelled), ``instances`` (the instances of one batch whose result changed)
and ``execution`` (status and counts).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

from dbos import DBOS
from sqlalchemy import update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import (
    ERROR_STATUSES,
    FINISHED,
    TERMINAL_STATUSES,
    BatchStatus,
    ExecutionStatus,
    InstanceStatus,
)
from pcm_aws_script_runner.fleet_models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_aws_script_runner.ids import EXECUTION_WORKFLOW
from pcm_aws_script_runner.ids import execution_stream as stream_of
from pcm_aws_script_runner.jobs.runtime import runtime
from pcm_aws_script_runner.services.executions import absolute_limit, comment_stamp
from pcm_ops.db.types import utcnow
from pcm_ops.jobs import publish_async

logger = logging.getLogger("pcm_aws_script_runner.executions")

#: What ListCommandInvocations returns of the output, at most; longer output was truncated.
LIST_OUTPUT_LIMIT = 2500
#: What GetCommandInvocation returns of standard output, at most.
GET_OUTPUT_LIMIT = 24_000
ERROR_MARKER = "----------ERROR-------"
TRUNCATED_MARKERS = ("---Output truncated---", "--output truncated--")
#: How much of an instance's output an event carries (the API has all of it).
EVENT_OUTPUT_CHARS = 2000
#: Polls after a cancel request before the workflow stops waiting for SSM to confirm.
CANCEL_POLLS = 20
#: How far AWS's clock may be behind ours when looking for a command sent since a time.
CLOCK_SKEW = timedelta(minutes=5)


def render_command(language: str, body: str, values: dict[str, Any]) -> str:
    """The script as SSM runs it: each parameter first set as an environment variable of
    its name (``$service`` in shell, ``$env:service`` in PowerShell), then the body."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    if language == "powershell":
        lines = [
            f"$env:{name} = '{text(value).replace(chr(39), chr(39) * 2)}'"
            for name, value in values.items()
        ]
    else:
        lines = [f"export {name}={shlex.quote(text(value))}" for name, value in values.items()]
    if not lines:
        return body
    shebang = ""
    if body.startswith("#!"):
        shebang, _, body = body.partition("\n")
        shebang += "\n"
    return shebang + "\n".join(lines) + "\n" + body


# -------------------------------------------------------------------------------------------
# Steps
# -------------------------------------------------------------------------------------------


@DBOS.step(name="aws-script-runner.begin_execution", retries_allowed=True, max_attempts=5)
async def begin(execution_id: int) -> dict[str, Any]:
    """Mark the execution running; return its plan (batches, limits, options)."""
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
    await publish_async(stream_of(execution_id), "execution", {"status": ExecutionStatus.RUNNING})
    return plan


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
    rt = await runtime()
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        batch = await _batch(session, execution_id, number)
        if execution is None or batch is None:
            raise LookupError(f"execution {execution_id} batch {number} is gone")
        if batch.status not in (BatchStatus.PLANNED, BatchStatus.SENDING):
            return {"status": str(batch.status), "command_id": batch.command_id}
        resumed = batch.status == BatchStatus.SENDING
        batch.status = BatchStatus.SENDING
        session.add(batch)
        secrets = json.loads(execution.secret_parameters) if execution.secret_parameters else {}
        from pcm_aws_script_runner.models import AwsSrScriptVersion

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
            spec["name"]: values[spec["name"]]
            for spec in version.parameters
            if spec["name"] in values
        }
        command = render_command(execution.language, version.body, ordered)
        snapshot: dict[str, Any] = {
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
    stamp = comment_stamp(execution_id, number)
    command_id, error, adopted = await _send_once(
        rt, snapshot, _send_arguments(snapshot, command, stamp), stamp, resumed=resumed
    )
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
    now = utcnow()
    async with rt.database.session() as session:
        batch = await _batch(session, execution_id, number)
        assert batch is not None
        if command_id is not None:
            batch.status, batch.command_id, batch.sent_at = BatchStatus.SENT, command_id, now
            new_status, details = InstanceStatus.SENT, ""
        else:
            batch.status, batch.error, batch.finished_at = BatchStatus.FAILED, error, now
            new_status, details = InstanceStatus.UNDELIVERABLE, error[:100]
        session.add(batch)
        await session.exec(
            update(AwsSrExecutionTarget)
            .where(
                col(AwsSrExecutionTarget.execution_id) == execution_id,
                col(AwsSrExecutionTarget.batch_number) == number,
            )
            .values(status=new_status, status_details=details, updated_at=now)
        )
    data = {
        "number": number,
        "status": str(batch.status),
        "command_id": command_id,
        "error": error,
        "adopted": adopted,
    }
    await publish_async(stream_of(execution_id), "batch", data)
    return {
        "status": str(batch.status),
        "command_id": command_id,
        "errors": 0 if command_id else len(snapshot["instance_ids"]),
    }


def _send_arguments(snapshot: dict[str, Any], command: str, stamp: str) -> dict[str, Any]:
    """SendCommand's arguments for one batch; its comment starts with the batch's stamp."""
    comment = f"{stamp}: {snapshot['comment']}" if snapshot["comment"] else stamp
    count = str(len(snapshot["instance_ids"]))
    arguments: dict[str, Any] = {
        "InstanceIds": snapshot["instance_ids"],
        "DocumentName": snapshot["document"],
        "Parameters": {"commands": [command], "executionTimeout": [str(snapshot["timeout"])]},
        "TimeoutSeconds": snapshot["delivery"],
        "Comment": comment[:100],
        "MaxConcurrency": count,
        "MaxErrors": count,
    }
    if snapshot["bucket"]:
        arguments["OutputS3BucketName"] = snapshot["bucket"]
        if snapshot["prefix"]:
            arguments["OutputS3KeyPrefix"] = snapshot["prefix"]
    if snapshot["log_group"]:
        arguments["CloudWatchOutputConfig"] = {
            "CloudWatchLogGroupName": snapshot["log_group"],
            "CloudWatchOutputEnabled": True,
        }
    return arguments


async def _send_once(
    rt: Any, snapshot: dict[str, Any], arguments: dict[str, Any], stamp: str, *, resumed: bool
) -> tuple[str | None, str, bool]:
    """Make the batch's SendCommand at most once in effect: ``(command id, error, adopted)``.

    SendCommand has no idempotency token, so it goes through a client that never retries,
    and a failure whose outcome is unknown (5xx, timeout, reset, throttling) is resolved by
    asking SSM for a command with the batch's stamp before sending again; a command found
    is adopted. A refusal (a 4xx that SSM documents as "not processed") is recorded as the
    batch's error. When SSM cannot even be asked, :class:`OutcomeUnknown` propagates: the
    step is retried later, finds the batch ``sending`` and looks first.
    """
    from pcm_aws_common.services.clients import aws_error
    from pcm_aws_common.services.once import (
        CallNotMade,
        CallRefused,
        OutcomeUnknown,
        call_at_most_once,
    )

    target = {
        "account": snapshot["account_id"],
        "region": snapshot["region"],
        "user": snapshot["user"],
    }

    async def find() -> str | None:  # a read: its client keeps botocore's retries
        async with rt.aws.client("ssm", **target) as reader:
            return await _find_sent(reader, stamp, snapshot["created_at"])

    try:
        async with rt.aws.client("ssm", **target, idempotent=False) as sender:

            async def send() -> str:
                response = await sender.send_command(**arguments)
                return str(response["Command"]["CommandId"])

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
    except OutcomeUnknown:
        raise
    except Exception as exc:  # no client (account, credentials, role): nothing was sent
        code, message = aws_error(exc)
        return None, f"SendCommand not sent: {code}: {message}"[:2000], False
    return sent.value, "", sent.adopted


async def _find_sent(ssm: Any, stamp: str, since: datetime) -> str | None:
    """The id of a command whose comment starts with ``stamp``, sent since ``since`` (less
    a margin for the difference between our clock and AWS's), across every page."""
    after = (since.astimezone(UTC) - CLOCK_SKEW).strftime("%Y-%m-%dT%H:%M:%SZ")
    arguments: dict[str, Any] = {
        "Filters": [{"key": "InvokedAfter", "value": after}],
        "MaxResults": 50,
    }
    while True:
        page = await ssm.list_commands(**arguments)
        for command in page.get("Commands", []):
            comment = command.get("Comment") or ""
            if comment == stamp or comment.startswith(f"{stamp}:"):
                return str(command["CommandId"])
        token = page.get("NextToken")
        if not token:
            return None
        arguments["NextToken"] = token


async def _batch(session: Any, execution_id: int, number: int) -> AwsSrExecutionBatch | None:
    found: AwsSrExecutionBatch | None = (
        await session.exec(
            select(AwsSrExecutionBatch).where(
                AwsSrExecutionBatch.execution_id == execution_id,
                AwsSrExecutionBatch.number == number,
            )
        )
    ).first()
    return found


def _split_output(text: str) -> tuple[str, str]:
    stdout, marker, stderr = text.partition(ERROR_MARKER)
    if marker:
        return stdout.rstrip("\n"), stderr.lstrip("\n")
    return text, ""


def _truncated(text: str, limit: int) -> bool:
    return len(text) >= limit or any(marker in text for marker in TRUNCATED_MARKERS)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _output_location(
    execution: dict[str, Any], invocation: dict[str, Any], plugin: dict[str, Any]
) -> str | None:
    url = plugin.get("StandardOutputUrl") or invocation.get("StandardOutputUrl")
    if url:
        return str(url)
    if execution["bucket"]:
        prefix = f"{execution['prefix'].rstrip('/')}/" if execution["prefix"] else ""
        step = (plugin.get("Name") or "aws:runShellScript").replace(":", "")
        return (
            f"s3://{execution['bucket']}/{prefix}{invocation['CommandId']}/"
            f"{invocation['InstanceId']}/{step}/stdout"
        )
    if execution["log_group"]:
        step = (plugin.get("Name") or "aws:runShellScript").replace(":", "-")
        return (
            f"cloudwatch:{execution['log_group']}:{invocation['CommandId']}/"
            f"{invocation['InstanceId']}/{step}/stdout"
        )
    return None


async def _invocations(ssm: Any, command_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"CommandId": command_id, "Details": True, "MaxResults": 50}
    while True:
        page = await ssm.list_command_invocations(**arguments)
        rows.extend(page.get("CommandInvocations", []))
        token = page.get("NextToken")
        if not token:
            return rows
        arguments["NextToken"] = token


async def _poll_batch(
    rt: Any, execution: dict[str, Any], batch: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The latest result of each instance of one sent batch, by instance id."""
    async with rt.aws.client(
        "ssm", account=batch["account_id"], region=batch["region"], user=execution["user"]
    ) as ssm:
        invocations = await _invocations(ssm, batch["command_id"])
        results: dict[str, dict[str, Any]] = {}
        fetch: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for invocation in invocations:
            plugins = invocation.get("CommandPlugins") or [{}]
            plugin = plugins[0]
            output = plugin.get("Output") or ""
            stdout, stderr = _split_output(output)
            status = invocation.get("Status") or InstanceStatus.PENDING.value
            code = plugin.get("ResponseCode")
            result = {
                "status": status,
                "status_details": invocation.get("StatusDetails") or "",
                "exit_code": code
                if isinstance(code, int) and code >= 0 and status in TERMINAL_STATUSES
                else None,
                "stdout": stdout,
                "stderr": stderr,
                "stdout_truncated": False,
                "stderr_truncated": False,
                "output_url": None,
                "started_at": _timestamp(plugin.get("ResponseStartDateTime")),
                "ended_at": _timestamp(plugin.get("ResponseFinishDateTime")),
            }
            results[invocation["InstanceId"]] = result
            if _truncated(output, LIST_OUTPUT_LIMIT):
                if status in TERMINAL_STATUSES:
                    fetch.append((invocation, result))
                else:
                    result["stdout_truncated"] = True
        # The fallback: only for output the list truncated, once the invocation has ended.
        if fetch:

            async def full(invocation: dict[str, Any], result: dict[str, Any]) -> None:
                detail = await ssm.get_command_invocation(
                    CommandId=invocation["CommandId"], InstanceId=invocation["InstanceId"]
                )
                stdout = detail.get("StandardOutputContent") or ""
                stderr = detail.get("StandardErrorContent") or ""
                result["stdout"], result["stderr"] = stdout, stderr
                result["stdout_truncated"] = _truncated(stdout, GET_OUTPUT_LIMIT)
                result["stderr_truncated"] = _truncated(stderr, 8000)
                if result["stdout_truncated"] or result["stderr_truncated"]:
                    plugin = (invocation.get("CommandPlugins") or [{}])[0]
                    url = detail.get("StandardOutputUrl") or None
                    result["output_url"] = url or _output_location(execution, invocation, plugin)

            await asyncio.gather(*(full(invocation, result) for invocation, result in fetch))
    return results


def _event_row(target: AwsSrExecutionTarget) -> dict[str, Any]:
    return {
        "instance_id": target.instance_id,
        "account_id": target.account_id,
        "region": target.region,
        "name": target.name,
        "status": target.status,
        "status_details": target.status_details,
        "exit_code": target.exit_code,
        "stdout": target.stdout[-EVENT_OUTPUT_CHARS:],
        "stderr": target.stderr[-EVENT_OUTPUT_CHARS:],
        "stdout_truncated": target.stdout_truncated,
        "output_url": target.output_url,
        "ended_at": target.ended_at.isoformat() if target.ended_at else None,
    }


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
        batches: list[dict[str, Any]] = [
            {
                "number": batch.number,
                "account_id": batch.account_id,
                "region": batch.region,
                "command_id": batch.command_id,
            }
            for batch in (
                await session.exec(
                    select(AwsSrExecutionBatch).where(
                        AwsSrExecutionBatch.execution_id == execution_id,
                        col(AwsSrExecutionBatch.number).in_(numbers),
                    )
                )
            ).all()
            if batch.command_id
        ]
    polled = await asyncio.gather(
        *(_poll_batch(rt, snapshot, batch) for batch in batches), return_exceptions=True
    )
    summary: dict[str, Any] = {"batches": {}, "changed": 0, "cancel": cancel}
    changed_rows: dict[int, list[dict[str, Any]]] = {}
    now = utcnow()
    async with rt.database.session() as session:
        for batch, results in zip(batches, polled, strict=True):
            number = batch["number"]
            targets = (
                await session.exec(
                    select(AwsSrExecutionTarget).where(
                        AwsSrExecutionTarget.execution_id == execution_id,
                        AwsSrExecutionTarget.batch_number == number,
                    )
                )
            ).all()
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
                changed_rows.setdefault(number, []).append(_event_row(target))
            ended = sum(t.status in TERMINAL_STATUSES for t in targets)
            errors = sum(t.status in ERROR_STATUSES for t in targets)
            finished = ended == len(targets)
            if finished:
                await session.exec(
                    update(AwsSrExecutionBatch)
                    .where(
                        col(AwsSrExecutionBatch.execution_id) == execution_id,
                        col(AwsSrExecutionBatch.number) == number,
                        col(AwsSrExecutionBatch.status).in_(_RUNNING),
                    )
                    .values(status=BatchStatus.FINISHED, finished_at=now)
                )
            summary["batches"][str(number)] = {
                "ended": ended,
                "errors": errors,
                "finished": finished,
            }
        summary["changed"] = sum(len(rows) for rows in changed_rows.values())
        counts = await _update_counts(session, execution_id)
    summary["counts"] = counts
    stream = stream_of(execution_id)
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


async def _update_counts(session: Any, execution_id: int) -> dict[str, int]:
    from sqlalchemy import func

    rows = (
        await session.exec(
            select(AwsSrExecutionTarget.status, func.count())
            .where(AwsSrExecutionTarget.execution_id == execution_id)
            .group_by(AwsSrExecutionTarget.status)
        )
    ).all()
    counts = {status: int(n) for status, n in rows}
    await session.exec(
        update(AwsSrExecution).where(col(AwsSrExecution.id) == execution_id).values(counts=counts)
    )
    return counts


@DBOS.step(name="aws-script-runner.hold_batches", retries_allowed=True, max_attempts=5)
async def hold_batches(execution_id: int, numbers: list[int], reason: str) -> int:
    """Mark planned batches ``not_sent`` and their instances ``NotSent`` with ``reason``."""
    rt = await runtime()
    async with rt.database.session() as session:
        await session.exec(
            update(AwsSrExecutionBatch)
            .where(
                col(AwsSrExecutionBatch.execution_id) == execution_id,
                col(AwsSrExecutionBatch.number).in_(numbers),
                col(AwsSrExecutionBatch.status) == BatchStatus.PLANNED,
            )
            .values(status=BatchStatus.NOT_SENT, error=reason[:2000])
        )
        await session.exec(
            update(AwsSrExecutionTarget)
            .where(
                col(AwsSrExecutionTarget.execution_id) == execution_id,
                col(AwsSrExecutionTarget.batch_number).in_(numbers),
                col(AwsSrExecutionTarget.status) == InstanceStatus.PENDING,
            )
            .values(status=InstanceStatus.NOT_SENT, skip_reason=reason[:300], updated_at=utcnow())
        )
        counts = await _update_counts(session, execution_id)
    await publish_async(
        stream_of(execution_id), "execution", {"held": numbers, "reason": reason, "counts": counts}
    )
    return len(numbers)


@DBOS.step(name="aws-script-runner.cancel_batch", retries_allowed=True, max_attempts=5)
async def cancel_batch(execution_id: int, number: int) -> str:
    """``CancelCommand`` for one running batch (cancelling twice is harmless)."""
    rt = await runtime()
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        batch = await _batch(session, execution_id, number)
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
        stream_of(execution_id),
        "batch",
        {"number": number, "status": BatchStatus.CANCELLED, "command_id": command_id},
    )
    return BatchStatus.CANCELLED.value


@DBOS.step(name="aws-script-runner.finish_execution", retries_allowed=True, max_attempts=5)
async def finish(execution_id: int, reason: str) -> dict[str, Any]:
    """Set the final status from the instances' results.

    Three short steps, none of which holds a write transaction while another one is
    opened (SQLite has a single writer): the counts are stored; the final event is
    published, so that a stream which sees the run finished has this event to send
    before its end; then the status commits. A retry after a crash between the last
    two publishes nothing twice (the event's key is the step's).
    """
    rt = await runtime()
    async with rt.database.session() as session:
        counts = await _update_counts(session, execution_id)
        execution = await session.get(AwsSrExecution, execution_id)
        assert execution is not None
        await session.refresh(execution)
        cancel_requested_by = execution.cancel_requested_by
        cancelled = execution.cancel_requested_at is not None
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
    await publish_async(stream_of(execution_id), "execution", result)
    async with rt.database.session() as session:
        await session.exec(
            update(AwsSrExecution)
            .where(col(AwsSrExecution.id) == execution_id)
            .values(status=status, status_reason=reason[:500], finished_at=utcnow())
        )
    return result


# -------------------------------------------------------------------------------------------
# The workflow
# -------------------------------------------------------------------------------------------


#: Batch states the workflow has yet to send, and those whose invocations it polls. The
#: workflow keeps states as plain strings: step outputs are pickled into the job
#: engine's database, so they hold no class of this package.
_UNSENT = (BatchStatus.PLANNED, BatchStatus.SENDING)
_RUNNING = (BatchStatus.SENT, BatchStatus.CANCELLED)


def _interleaved(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batches in sending order: one of each account-region in turn, so that a low max
    concurrency spreads over the fleet instead of finishing one region first."""
    per_region: dict[str, list[dict[str, Any]]] = {}
    for batch in batches:
        per_region.setdefault(batch["account_region"], []).append(batch)
    order: list[dict[str, Any]] = []
    queues = [per_region[key] for key in sorted(per_region)]
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    return order


@DBOS.workflow(name=EXECUTION_WORKFLOW)
async def execute(execution_id: int) -> dict[str, Any]:
    """Run execution ``execution_id`` to the end (see the module's description)."""
    plan = await begin(execution_id)
    if plan["finished"]:
        return {"status": "already finished"}
    batches = {batch["number"]: batch for batch in plan["batches"]}
    order = [batch["number"] for batch in _interleaved(plan["batches"])]
    ended: dict[int, int] = {}  # sent batch → instances that have ended
    errors: dict[int, int] = {}
    state = {number: batch["status"] for number, batch in batches.items()}
    # A batch found "sending" was interrupted mid-call: send_batch settles it first.
    for number, status in state.items():
        if status in _RUNNING:
            ended[number] = 0
    cancel = plan["cancel"]
    cancel_polls = 0
    reason = ""
    interval = plan["poll"]
    while True:
        planned = [n for n in order if state[n] in _UNSENT]
        running = [n for n in order if state[n] in _RUNNING]
        if cancel:
            if planned:
                await hold_batches(execution_id, planned, "cancelled before it was sent")
                for n in planned:
                    state[n] = BatchStatus.NOT_SENT
                planned = []
            to_cancel = [n for n in running if state[n] == BatchStatus.SENT]
            if to_cancel:
                cancelled = await asyncio.gather(
                    *(cancel_batch(execution_id, n) for n in to_cancel)
                )
                for n, answer in zip(to_cancel, cancelled, strict=True):
                    if answer == BatchStatus.CANCELLED:
                        state[n] = BatchStatus.CANCELLED
        elif planned:
            error_count = sum(errors.values())
            if error_count > plan["error_budget"]:
                reason = (
                    f"max errors ({plan['max_errors']}) exceeded: {error_count} instances failed"
                )
                await hold_batches(execution_id, planned, reason)
                for n in planned:
                    state[n] = BatchStatus.NOT_SENT
                planned = []
            else:
                in_flight = sum(batches[n]["size"] - ended.get(n, 0) for n in running)
                room = plan["concurrency"] - in_flight
                to_send = []
                for n in planned:
                    if batches[n]["size"] > room:
                        break
                    to_send.append(n)
                    room -= batches[n]["size"]
                if not to_send and not running:
                    to_send = planned[:1]  # never wait on nothing
                if to_send:
                    outcomes = await asyncio.gather(*(send_batch(execution_id, n) for n in to_send))
                    for n, outcome in zip(to_send, outcomes, strict=True):
                        state[n] = outcome["status"]
                        if outcome["status"] in _RUNNING:
                            ended[n] = 0
                        elif outcome["status"] == BatchStatus.FAILED:
                            errors[n] = batches[n]["size"]
                    continue  # maybe more room (a batch failed to send); else poll
        running = [n for n in order if state[n] in _RUNNING]
        if not running:
            if not [n for n in order if state[n] in _UNSENT]:
                break
            continue
        await DBOS.sleep_async(interval)
        summary = await poll(execution_id, running)
        for key, info in summary["batches"].items():
            n = int(key)
            ended[n], errors[n] = info["ended"], info["errors"]
            if info["finished"]:
                state[n] = BatchStatus.FINISHED
        if summary["cancel"] and not cancel:
            cancel = True
            continue
        if cancel:
            cancel_polls += 1
            if cancel_polls >= CANCEL_POLLS:
                reason = (
                    "cancelled; SSM had not confirmed every cancellation when the run "
                    "stopped waiting"
                )
                break
        # Poll again soon when results are coming in, less often while nothing changes.
        interval = plan["poll"] if summary["changed"] else min(interval * 1.5, plan["max_poll"])
    return await finish(execution_id, reason)
