"""How ``pcm-ops script-runner executions`` prints executions: one-line summaries, the
per-instance rows (text, JSON and CSV), a preview's plan, and a run followed until it ends."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from pcm_aws_script_runner.domain import FINISHED, ExecutionStatus
from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_in_session

__all__ = ["counts_text", "follow", "print_plan", "summary", "target_fields", "target_row"]


def summary(execution: Any) -> dict[str, Any]:
    return {
        "id": execution.id,
        "script": execution.script_name,
        "version": execution.script_version,
        "sha256": execution.script_sha256,
        "status": execution.status,
        "status_reason": execution.status_reason,
        "counts": execution.counts,
        "targets": execution.target_count,
        "requested_by": execution.requested_by,
        "created_at": execution.created_at.isoformat(),
        "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
    }


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "-"


def target_row(target: Any) -> dict[str, Any]:
    return {
        "instance_id": target.instance_id,
        "account_id": target.account_id,
        "region": target.region,
        "name": target.name,
        "status": target.status,
        "status_details": target.status_details,
        "skip_reason": target.skip_reason,
        "exit_code": target.exit_code,
        "stdout": target.stdout,
        "stderr": target.stderr,
        "stdout_truncated": target.stdout_truncated,
        "output_url": target.output_url,
        "started_at": target.started_at.isoformat() if target.started_at else None,
        "ended_at": target.ended_at.isoformat() if target.ended_at else None,
    }


def target_fields() -> list[str]:
    return [
        "instance_id",
        "account_id",
        "region",
        "name",
        "status",
        "status_details",
        "skip_reason",
        "exit_code",
        "stdout",
        "stderr",
        "stdout_truncated",
        "output_url",
        "started_at",
        "ended_at",
    ]


def print_plan(plan: Any, as_json: bool) -> None:
    checks = plan.checks.results if plan.checks is not None else ()
    data = {
        "script": plan.script.name,
        "version": plan.version.number,
        "sha256": plan.version.sha256,
        "parameters": plan.shown_values,
        "instances": len(plan.runnable),
        "skipped": [
            {
                "instance_id": t.instance_id,
                "account_region": t.account_region,
                "reason": t.skip_reason,
            }
            for t in plan.skipped
        ],
        "account_regions": plan.account_regions(),
        "max_concurrency": plan.max_concurrency,
        "max_errors": plan.max_errors,
        "checks": [{"plugin": c.plugin, "ok": c.ok, "reason": c.reason} for c in checks],
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"{plan.script.name} v{plan.version.number} ({plan.version.sha256[:12]}) on "
        f"{len(plan.runnable)} instances, {len(plan.skipped)} skipped"
    )
    for row in data["account_regions"]:
        click.echo(
            f"  {row['account_id']} {row['region']}: {row['instances']} instances, "
            f"{row['skipped']} skipped, {row['send_commands']} SendCommand"
        )
    for target in plan.skipped:
        click.echo(f"  skip {target.instance_id} ({target.account_region}): {target.skip_reason}")
    for check in checks:
        click.echo(f"  check {check.plugin}: {'ok' if check.ok else 'BLOCKS: ' + check.reason}")


def follow(obj: CliContext, execution_id: int, as_json: bool) -> None:
    from pcm_aws_script_runner.services import executions as service

    settings = obj.settings()
    last = ""
    while True:

        async def read(session: Any) -> Any:
            return await service.get_execution(session, execution_id)

        execution = run_in_session(settings, read)
        line = f"execution {execution_id}: {execution.status} ({counts_text(execution.counts)})"
        if line != last and not as_json:
            click.echo(line, err=True)
            last = line
        if execution.status in FINISHED:
            if as_json:
                click.echo(json.dumps(summary(execution), indent=2))
            elif execution.status_reason:
                click.echo(execution.status_reason)
            if execution.status != ExecutionStatus.SUCCEEDED:
                sys.exit(1)
            return
        time.sleep(1.0)
