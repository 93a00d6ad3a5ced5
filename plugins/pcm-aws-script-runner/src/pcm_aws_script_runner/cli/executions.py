"""``pcm-ops script-runner executions ...``: preview, run, follow, cancel, rerun and export.

The commands use the same services as the API, on the database directly, as ``cli:<user>``
(audited as such). ``run`` records the execution and puts its job in the jobs database; a
running server (``pcm-ops serve``) or worker (``pcm-ops worker``) runs it. ``--wait``
follows it until it ends.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from pcm_aws_script_runner.cli.common import actor, config_of
from pcm_aws_script_runner.domain import FINISHED, ExecutionStatus, RerunKind
from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_in_session, run_with_database

T = TypeVar("T")


def _with_contexts(obj: CliContext, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run ``work(session, contexts)`` in one transaction; ``contexts`` gives the other
    plugins' checks and target sources their :class:`~pcm_ops.context.PluginContext`."""
    from pcm_ops.context import PluginContext

    settings, registry = obj.settings(), obj.registry()

    async def main(database: Any) -> T:
        contexts = PluginContext.factory(settings=settings, registry=registry, database=database)
        async with database.session() as session:
            return await work(session, contexts)

    return run_with_database(settings, main)


STATUSES = [status.value for status in ExecutionStatus]


@click.group("executions")
def executions() -> None:
    """Run scripts on instances, and follow, cancel, rerun and export runs."""


def _coerce(version: Any, raw: dict[str, str]) -> dict[str, Any]:
    """``--param name=value`` texts → values of each parameter's declared type."""
    types = {spec["name"]: spec.get("type", "string") for spec in version.parameters}
    values: dict[str, Any] = {}
    for name, text in raw.items():
        kind = types.get(name)
        if kind == "integer":
            try:
                values[name] = int(text)
            except ValueError:
                values[name] = text  # validation names the parameter and the problem
        elif kind == "boolean" and text.lower() in ("true", "false", "yes", "no", "1", "0"):
            values[name] = text.lower() in ("true", "yes", "1")
        else:
            values[name] = text
    return values


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: give NAME=VALUE", param_hint=what)
        pairs[name.strip()] = value
    return pairs


def _targets(
    instance_ids: tuple[str, ...],
    filter_json: str | None,
    saved_filter: int | None,
    source: str | None,
    reference: str | None,
) -> dict[str, Any]:
    if filter_json is not None:
        try:
            flt = json.loads(filter_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--filter") from None
        return {"filter": flt}
    if saved_filter is not None:
        return {"saved_filter_id": saved_filter}
    if source is not None:
        return {"source": {"name": source, "reference": reference or ""}}
    ids = [part for item in instance_ids for part in item.replace(",", " ").split()]
    return {"instance_ids": ids}


def _summary(execution: Any) -> dict[str, Any]:
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


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "-"


@executions.command()
@click.argument("script")
@click.option("--version", "number", type=click.IntRange(min=1), help="Default: the current one.")
@click.option(
    "--instance", "instance_ids", multiple=True, help="Instance ids (repeat, or comma-separated)."
)
@click.option(
    "--filter",
    "filter_json",
    help='Every inventory instance matching a JSON filter, e.g. \'{"regions": ["eu-west-1"]}\'.',
)
@click.option("--saved-filter", type=int, help="Every instance matching a saved filter (its id).")
@click.option("--source", help="A target source of another plugin (with --reference).")
@click.option("--reference", help="What the target source resolves (a change number...).")
@click.option("--param", "params", multiple=True, help="NAME=VALUE (repeat).")
@click.option("--max-concurrency", help="Instances at once: a number or a percentage (10%).")
@click.option("--max-errors", help="Failures tolerated before no more batches are sent.")
@click.option("--delivery-timeout", type=int, help="Seconds (30 to 2,592,000).")
@click.option("--execution-timeout", type=int, help="Seconds (1 to 172,800).")
@click.option("--s3-bucket", help="Full output to this S3 bucket.")
@click.option("--s3-prefix", help="... under this prefix.")
@click.option("--log-group", help="Full output to this CloudWatch log group.")
@click.option("--comment", default="", help="Why: recorded with the run.")
@click.option("--change", "change_reference", help="A change ticket for pre-execution checks.")
@click.option(
    "--preview",
    is_flag=True,
    help="Only show what would run; send nothing. Exits 1 when a pre-execution check "
    "blocks the run.",
)
@click.option("--wait", is_flag=True, help="Follow the run until it ends.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def run(
    obj: CliContext,
    script: str,
    number: int | None,
    instance_ids: tuple[str, ...],
    filter_json: str | None,
    saved_filter: int | None,
    source: str | None,
    reference: str | None,
    params: tuple[str, ...],
    max_concurrency: str | None,
    max_errors: str | None,
    delivery_timeout: int | None,
    execution_timeout: int | None,
    s3_bucket: str | None,
    s3_prefix: str | None,
    log_group: str | None,
    comment: str,
    change_reference: str | None,
    preview: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Run SCRIPT (a name or id) on instances, or --preview what would run."""
    from pcm_aws_script_runner.services import executions as service
    from pcm_aws_script_runner.services import scripts as scripts_service

    settings = obj.settings()
    config = config_of(obj)
    registry = obj.registry()
    raw_params = _pairs(params, "--param")
    targets = _targets(instance_ids, filter_json, saved_filter, source, reference)

    async def work(session: Any, contexts: Any) -> Any:
        row = await scripts_service.find_script(session, script)
        assert row.id is not None
        version = await scripts_service.get_version(session, row.id, number or row.current_version)
        draft = service.ExecutionDraft(
            script_id=row.id,
            script_version=number,
            parameters=_coerce(version, raw_params),
            targets=targets,
            max_concurrency=max_concurrency,
            max_errors=max_errors,
            delivery_timeout_seconds=delivery_timeout,
            execution_timeout_seconds=execution_timeout,
            output_s3_bucket=s3_bucket,
            output_s3_prefix=s3_prefix,
            cloudwatch_log_group=log_group,
            comment=comment,
            change_reference=change_reference,
        )
        if preview:
            return await service.plan_execution(
                session, draft, config, registry=registry, actor=actor(), contexts=contexts
            )
        execution = await service.start_execution(
            session, draft, config, actor(), registry=registry, contexts=contexts
        )
        await service.launch(session, execution, settings=settings)
        return execution

    _report(obj, _with_contexts(obj, work), preview=preview, wait=wait, as_json=as_json)


def _report(obj: CliContext, result: Any, *, preview: bool, wait: bool, as_json: bool) -> None:
    """What ``run`` prints: the plan (exit 1 when a check blocks it), the queued execution,
    or the execution followed to its end."""
    if preview:
        _print_plan(result, as_json)
        if result.checks is not None and not result.checks.passed:
            # The same status as running it would give: scripts can gate on the preview.
            click.echo(
                f"Error: the run would be blocked by pre-execution checks: "
                f"{result.checks.reason()}",
                err=True,
            )
            sys.exit(1)
        return
    if not wait:
        if as_json:
            click.echo(json.dumps(_summary(result), indent=2))
        else:
            click.echo(
                f"execution {result.id} queued: {result.script_name} v{result.script_version} on "
                f"{result.target_count} instances (job {result.job_id}); a server or worker runs it"
            )
        return
    _follow(obj, result.id, as_json)


def _print_plan(plan: Any, as_json: bool) -> None:
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


def _follow(obj: CliContext, execution_id: int, as_json: bool) -> None:
    from pcm_aws_script_runner.services import executions as service

    settings = obj.settings()
    last = ""
    while True:

        async def read(session: Any) -> Any:
            return await service.get_execution(session, execution_id)

        execution = run_in_session(settings, read)
        line = f"execution {execution_id}: {execution.status} ({_counts(execution.counts)})"
        if line != last and not as_json:
            click.echo(line, err=True)
            last = line
        if execution.status in FINISHED:
            if as_json:
                click.echo(json.dumps(_summary(execution), indent=2))
            elif execution.status_reason:
                click.echo(execution.status_reason)
            if execution.status != ExecutionStatus.SUCCEEDED:
                sys.exit(1)
            return
        time.sleep(1.0)


@executions.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--script", "script_id", type=int, help="A script id.")
@click.option("--user", "requested_by", help="Who started it.")
@click.option("--account", "account_id", help="Reaching this account.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(
    obj: CliContext,
    status: str | None,
    script_id: int | None,
    requested_by: str | None,
    account_id: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Executions, newest first."""
    from pcm_aws_script_runner.services import executions as service

    query = service.ExecutionQuery(
        script_id=script_id, requested_by=requested_by, status=status, account_id=account_id
    )

    async def work(session: Any) -> Any:
        return await service.list_executions(session, query, limit=limit)

    rows, total = run_in_session(obj.settings(), work)
    if as_json:
        click.echo(json.dumps([_summary(row) for row in rows], indent=2))
        return
    if not rows:
        click.echo("no executions")
        return
    for row in rows:
        click.echo(
            f"{row.id:>6}  {row.status:<10}  {row.script_name} v{row.script_version}  "
            f"{row.target_count} instances  {_counts(row.counts)}  {row.requested_by}  "
            f"{row.created_at:%Y-%m-%d %H:%M}"
        )
    if total > len(rows):
        click.echo(f"({total - len(rows)} more; use --limit)")


@executions.command()
@click.argument("execution_id", type=int)
@click.option("--output", is_flag=True, help="Print each instance's output.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(obj: CliContext, execution_id: int, output: bool, as_json: bool) -> None:
    """One execution and its per-instance results."""
    from pcm_aws_script_runner.services import executions as service

    async def work(session: Any) -> Any:
        execution = await service.get_execution(session, execution_id)
        return execution, await service.targets_of(session, execution_id)

    execution, targets = run_in_session(obj.settings(), work)
    if as_json:
        data = _summary(execution)
        data["instances"] = [_target(t) for t in targets]
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"execution {execution.id}: {execution.script_name} v{execution.script_version} "
        f"({execution.script_sha256[:12]}), {execution.status}"
        + (f": {execution.status_reason}" if execution.status_reason else "")
    )
    click.echo(f"  by {execution.requested_by} at {execution.created_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"  {_counts(execution.counts)}")
    for target in targets:
        code = "" if target.exit_code is None else f" exit {target.exit_code}"
        reason = f" ({target.skip_reason})" if target.skip_reason else ""
        click.echo(
            f"  {target.instance_id} {target.account_id} {target.region} {target.name}: "
            f"{target.status}{code}{reason}"
        )
        if output and (target.stdout or target.stderr):
            for line in target.stdout.splitlines():
                click.echo(f"    | {line}")
            for line in target.stderr.splitlines():
                click.echo(f"    ! {line}")
            if target.stdout_truncated:
                click.echo(f"    (truncated; whole output: {target.output_url or 'not kept'})")


def _target(target: Any) -> dict[str, Any]:
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


@executions.command()
@click.argument("execution_id", type=int)
@click.pass_obj
def cancel(obj: CliContext, execution_id: int) -> None:
    """Cancel a run: nothing more is sent, CancelCommand goes to its running batches."""
    from pcm_aws_script_runner.services import executions as service

    async def work(session: Any) -> Any:
        return await service.request_cancel(session, execution_id, actor())

    execution = run_in_session(obj.settings(), work)
    click.echo(f"execution {execution.id}: {execution.status}")


@executions.command()
@click.argument("execution_id", type=int)
@click.option("--all", "clone", is_flag=True, help="Every instance (a clone), not only the failed.")
@click.option("--wait", is_flag=True, help="Follow the new run until it ends.")
@click.pass_obj
def rerun(obj: CliContext, execution_id: int, clone: bool, wait: bool) -> None:
    """Run an execution again on its failed instances (--all: on all of them)."""
    from pcm_aws_script_runner.services import executions as service

    settings = obj.settings()
    config = config_of(obj)
    registry = obj.registry()

    async def work(session: Any, contexts: Any) -> Any:
        draft = await (service.clone_draft if clone else service.rerun_draft)(session, execution_id)
        execution = await service.start_execution(
            session,
            draft,
            config,
            actor(),
            registry=registry,
            contexts=contexts,
            rerun_of=execution_id,
            rerun_kind=RerunKind.CLONE if clone else RerunKind.FAILED,
        )
        await service.launch(session, execution, settings=settings)
        return execution

    execution = _with_contexts(obj, work)
    click.echo(
        f"execution {execution.id} queued: {'clone' if clone else 'rerun of the failed instances'} "
        f"of {execution_id}, {execution.target_count} instances"
    )
    if wait:
        _follow(obj, execution.id, False)


@executions.command()
@click.argument("execution_id", type=int)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.pass_obj
def export(obj: CliContext, execution_id: int, fmt: str) -> None:
    """Write an execution's per-instance results to stdout as CSV or JSON."""
    from pcm_aws_script_runner.services import executions as service

    async def work(session: Any) -> Any:
        await service.get_execution(session, execution_id)
        return await service.targets_of(session, execution_id)

    rows = [_target(t) for t in run_in_session(obj.settings(), work)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(_target_fields()))
    writer.writeheader()
    writer.writerows(rows)


def _target_fields() -> list[str]:
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


__all__ = ["executions"]
