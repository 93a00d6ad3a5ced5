"""What SSM is sent for one batch: the script with its parameters, ``SendCommand``'s
arguments (the comment starts with the batch's stamp), and the lookup that finds a command
by that stamp after its answer was lost."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CLOCK_SKEW", "find_sent", "render_command", "send_arguments"]

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


def send_arguments(snapshot: dict[str, Any], command: str, stamp: str) -> dict[str, Any]:
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


async def find_sent(ssm: Any, stamp: str, since: datetime) -> str | None:
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
