"""``pcm-ops script-runner executions run`` and ``rerun``: starting executions from the
command line.

``run`` records the execution and puts its job in the jobs database, as ``cli:<user>``
(audited as such); a running server (``pcm-ops serve``) or worker (``pcm-ops worker``) runs
it. ``--wait`` follows it until it ends. ``--preview`` shows what would run and sends
nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from pcm_aws_script_runner.cli.common import actor, config_of
from pcm_aws_script_runner.cli.execution_output import follow, print_plan, summary
from pcm_aws_script_runner.domain import RerunKind
from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_with_database

__all__ = ["rerun", "run"]

T = TypeVar("T")


def _with_contexts(obj: CliContext, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run ``work(session, contexts)`` in one transaction; ``contexts`` gives the other
    plugins' checks and target sources their :class:`~pcm_ops.context.PluginContext`.

    A run that a check blocks ends the transaction normally (it commits the refusal's audit
    record) and then raises :class:`Blocked`: ``Error: ...``, exit 1.
    """
    from pcm_aws_script_runner.services.errors import Blocked
    from pcm_ops.context import PluginContext

    settings, registry = obj.settings(), obj.registry()

    async def main(database: Any) -> T | Blocked:
        contexts = PluginContext.factory(settings=settings, registry=registry, database=database)
        async with database.session() as session:
            try:
                return await work(session, contexts)
            except Blocked as refused:
                return refused

    result = run_with_database(settings, main)
    if isinstance(result, Blocked):
        raise result
    return result


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


@click.command()
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
        print_plan(result, as_json)
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
            click.echo(json.dumps(summary(result), indent=2))
        else:
            click.echo(
                f"execution {result.id} queued: {result.script_name} v{result.script_version} on "
                f"{result.target_count} instances (job {result.job_id}); a server or worker runs it"
            )
        return
    follow(obj, result.id, as_json)


@click.command()
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
        follow(obj, execution.id, False)
