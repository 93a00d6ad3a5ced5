"""Reading results from SSM: ``ListCommandInvocations`` pages with details, and
``GetCommandInvocation`` only for output the list truncated; what an event carries of
each instance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pcm_aws_script_runner.domain import TERMINAL_STATUSES, InstanceStatus
from pcm_aws_script_runner.models import AwsSrExecutionTarget

__all__ = ["event_row", "poll_batch"]

#: What ListCommandInvocations returns of the output, at most; longer output was truncated.
LIST_OUTPUT_LIMIT = 2500
#: What GetCommandInvocation returns of standard output, at most.
GET_OUTPUT_LIMIT = 24_000
ERROR_MARKER = "----------ERROR-------"
TRUNCATED_MARKERS = ("---Output truncated---", "--output truncated--")
#: How much of an instance's output an event carries (the API has all of it).
EVENT_OUTPUT_CHARS = 2000


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


async def poll_batch(
    rt: Any, execution: dict[str, Any], batch: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The latest result of each instance of one sent batch, by instance id.

    The reads go through the account-region's client for SendCommand (``idempotent=False``:
    each call made once, botocore retries nothing) rather than a second, retrying client:
    a fan-out then keeps one SSM client per account-region instead of two (each holds
    botocore's per-client class, methods and operation models, about half a MiB), and a
    poll that fails is simply asked again by the next poll.
    """
    async with rt.aws.client(
        "ssm",
        account=batch["account_id"],
        region=batch["region"],
        user=execution["user"],
        idempotent=False,
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


def event_row(target: AwsSrExecutionTarget) -> dict[str, Any]:
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
        "stderr_truncated": target.stderr_truncated,
        "output_url": target.output_url,
        "started_at": target.started_at.isoformat() if target.started_at else None,
        "ended_at": target.ended_at.isoformat() if target.ended_at else None,
    }
