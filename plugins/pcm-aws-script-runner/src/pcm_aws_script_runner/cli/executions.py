"""``pcm-ops script-runner executions ...``: preview, run, follow, cancel, rerun and export
(``run`` and ``rerun``, which start executions, are in :mod:`.runs`).

The commands use the same services as the API, on the database directly, as ``cli:<user>``
(audited as such). ``run`` records the execution and puts its job in the jobs database; a
running server (``pcm-ops serve``) or worker (``pcm-ops worker``) runs it. ``--wait``
follows it until it ends.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pcm_aws_script_runner.cli.common import actor
from pcm_aws_script_runner.cli.execution_output import (
    counts_text,
    summary,
    target_fields,
    target_row,
)
from pcm_aws_script_runner.cli.runs import rerun, run
from pcm_aws_script_runner.domain import ExecutionStatus
from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_in_session

__all__ = ["executions"]

STATUSES = [status.value for status in ExecutionStatus]


@click.group("executions")
def executions() -> None:
    """Run scripts on instances, and follow, cancel, rerun and export runs."""


executions.add_command(run)
executions.add_command(rerun)


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
        click.echo(json.dumps([summary(row) for row in rows], indent=2))
        return
    if not rows:
        click.echo("no executions")
        return
    for row in rows:
        click.echo(
            f"{row.id:>6}  {row.status:<10}  {row.script_name} v{row.script_version}  "
            f"{row.target_count} instances  {counts_text(row.counts)}  {row.requested_by}  "
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

    async def work(session: Any) -> None:
        execution = await service.get_execution(session, execution_id)
        if as_json:
            # The summary, then the instances a page at a time: memory stays flat in the
            # number of targets (the same document json.dumps(..., indent=2) writes).
            head = json.dumps(summary(execution), indent=2)
            click.echo(head[: -len("\n}")] + ',\n  "instances": [', nl=False)
            first = True
            async for target in _every_target(service, session, execution_id):
                row = json.dumps(target_row(target), indent=2).replace("\n", "\n    ")
                click.echo(("\n    " if first else ",\n    ") + row, nl=False)
                first = False
            click.echo("]\n}" if first else "\n  ]\n}")
            return
        click.echo(
            f"execution {execution.id}: {execution.script_name} v{execution.script_version} "
            f"({execution.script_sha256[:12]}), {execution.status}"
            + (f": {execution.status_reason}" if execution.status_reason else "")
        )
        click.echo(f"  by {execution.requested_by} at {execution.created_at:%Y-%m-%d %H:%M:%S} UTC")
        click.echo(f"  {counts_text(execution.counts)}")
        async for target in _every_target(service, session, execution_id):
            _echo_target(target, output)

    run_in_session(obj.settings(), work)


#: Instances read at once by ``show`` (keyset pages: no OFFSET, no list of every target).
SHOW_PAGE = 1000


async def _every_target(service: Any, session: Any, execution_id: int) -> Any:
    after = None
    while True:
        page = await service.targets_of(session, execution_id, limit=SHOW_PAGE, after=after)
        for target in page:
            yield target
        if len(page) < SHOW_PAGE:
            return
        after = service.target_key(page[-1])
        session.expunge_all()  # the page's objects go with it


def _echo_target(target: Any, output: bool) -> None:
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

    rows = [target_row(t) for t in run_in_session(obj.settings(), work)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from pcm_aws_script_runner.services.exports import write_csv

    write_csv(sys.stdout, list(target_fields()), rows)
