"""``pcm-ops jobs``: list, show and cancel background jobs; recover a lost worker's jobs."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from pcm_ops.cli.main import CliContext

if TYPE_CHECKING:
    from pcm_ops.jobs.service import JobInfo, JobStore
    from pcm_ops.settings import Settings

_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """``90``, ``30s``, ``5m``, ``2h``, ``14d``."""

    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = _DURATION.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a duration; write e.g. 30s, 5m, 2h or 14d", param, ctx)
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _store(settings: Settings) -> JobStore:
    from pcm_ops.jobs.service import JobStore

    return JobStore(settings)


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _as_json(job: JobInfo) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "plugin": job.owner,
        "name": job.name,
        "state": job.state.value,
        "queue": job.queue,
        "partition_key": job.partition_key,
        "executor_id": job.executor_id,
        "parent_id": job.parent_id,
        "created_at": _when(job.created_at),
        "started_at": _when(job.started_at),
        "finished_at": _when(job.finished_at),
        "error": job.error,
    }
    if job.steps:
        body["steps"] = [
            {
                "id": step.id,
                "name": step.name,
                "state": step.state,
                "started_at": _when(step.started_at),
                "finished_at": _when(step.finished_at),
                "error": step.error,
            }
            for step in job.steps
        ]
    return body


@click.group()
def jobs() -> None:
    """Background jobs: list, show, cancel; recover the jobs of lost workers."""


@jobs.command("list")
@click.option("--plugin", help="Only jobs of this plugin (or core).")
@click.option("--state", type=click.Choice(_STATES), help="Only jobs in this state.")
@click.option("-n", "--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, type=click.IntRange(min=0), help="Skip this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def list_jobs(
    obj: CliContext, plugin: str | None, state: str | None, limit: int, offset: int, as_json: bool
) -> None:
    """Jobs, newest first."""
    store = _store(obj.settings())
    try:
        found = store.find(owner=plugin, state=state, limit=limit, offset=offset)
    finally:
        store.close()
    for job in found:
        if as_json:
            click.echo(json.dumps(_as_json(job)))
        else:
            click.echo(f"{_when(job.created_at)}  {job.state.value:<9}  {job.id}  {job.name}")
    if not found and not as_json:
        click.echo("no jobs", err=True)


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@click.pass_obj
def show_job(obj: CliContext, job_id: str, as_json: bool) -> None:
    """One job and its steps."""
    store = _store(obj.settings())
    try:
        job = store.get(job_id)
    finally:
        store.close()
    body = _as_json(job)
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    steps = body.pop("steps", [])
    for key, value in body.items():
        click.echo(f"{key + ':':<14} {value if value is not None else '-'}")
    for step in steps:
        error = f"  {step['error']}" if step["error"] else ""
        click.echo(f"  step {step['id']:>3}  {step['state']:<9}  {step['name']}{error}")


@jobs.command("cancel")
@click.argument("job_id")
@click.pass_obj
def cancel_job(obj: CliContext, job_id: str) -> None:
    """Cancel a job: a queued job never starts, a running one stops before its next step."""
    from pcm_ops import audit
    from pcm_ops.cli.session import cli_actor, run_in_session
    from pcm_ops.jobs.names import owner_of

    settings = obj.settings()
    store = _store(settings)
    try:
        job = store.cancel(job_id)
    finally:
        store.close()

    async def record(session: Any) -> None:
        await audit.record(
            session,
            None,
            "core.job.cancel",
            object_type="job",
            object_id=job_id,
            actor=cli_actor(),
            details={"plugin": owner_of(job_id), "name": job.name},
        )

    run_in_session(settings, record)
    click.echo(f"cancelled {job_id} (now {job.state.value})")


@jobs.command("recover")
@click.option(
    "--stale-after",
    type=Duration(),
    default="5m",
    show_default=True,
    help="An executor whose last heartbeat is older than this is taken as gone.",
)
@click.option(
    "--executor-id",
    "executor_ids",
    multiple=True,
    metavar="ID",
    help="Consider only this executor (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be recovered; change nothing.")
@click.pass_obj
def recover_jobs(
    obj: CliContext, stale_after: timedelta, executor_ids: tuple[str, ...], dry_run: bool
) -> None:
    """Hand the unfinished jobs of gone executors to the live ones.

    A worker that stops for good (its machine lost, scaled away) leaves the jobs it had
    started unfinished; one that comes back under the same executor id resumes them by
    itself. This puts the jobs of executors whose heartbeat stopped longer ago than
    --stale-after back on their queues, where live workers resume them from their last
    completed step. Safe to repeat, and to run while the executor comes back.
    """
    from pcm_ops.db.types import utcnow
    from pcm_ops.jobs.executors import recover

    settings = obj.settings()
    if stale_after < timedelta(seconds=3 * settings.jobs_heartbeat_seconds):
        raise click.BadParameter(
            f"must be at least 3 heartbeats ({3 * settings.jobs_heartbeat_seconds:g} s with "
            "PCM_JOBS_HEARTBEAT_SECONDS="
            f"{settings.jobs_heartbeat_seconds:g}), or live executors would be taken as gone",
            param_hint="--stale-after",
        )
    store = _store(settings)
    try:
        results = recover(
            settings, store, stale_after, executor_ids=list(executor_ids) or None, dry_run=dry_run
        )
    finally:
        store.close()
    now = utcnow()
    for result in results:
        line = result.describe(now)
        if dry_run and result.stale:
            line = f"{result.executor_id}: gone; would put {len(result.jobs)} job(s) back"
        click.echo(line)
    if not results:
        click.echo("no executor has unfinished jobs")


@jobs.command("executors")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def list_executors(obj: CliContext, as_json: bool) -> None:
    """The processes that run jobs, and when each last gave a sign of life."""
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.types import utcnow
    from pcm_ops.jobs.executors import list_executors as rows_of

    engine = create_sync_engine(obj.settings())
    try:
        rows = rows_of(engine)
    finally:
        engine.dispose()
    now = utcnow()
    for row in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "executor_id": row.executor_id,
                        "kind": row.kind,
                        "hostname": row.hostname,
                        "pid": row.pid,
                        "queues": row.queues,
                        "app_version": row.app_version,
                        "started_at": _when(row.started_at),
                        "heartbeat_at": _when(row.heartbeat_at),
                        "stopped_at": _when(row.stopped_at),
                    }
                )
            )
            continue
        state = "stopped" if row.stopped_at else "running"
        age = int((now - row.heartbeat_at).total_seconds())
        click.echo(
            f"{row.executor_id:<30} {row.kind:<7} {state:<8} heartbeat {age} s ago  "
            f"{row.hostname} pid {row.pid}"
        )


@jobs.command("prune")
@click.option(
    "--older-than",
    type=Duration(),
    default=None,
    help="Default: PCM_JOBS_RETENTION_DAYS (what the hourly retention job uses).",
)
@click.pass_obj
def prune_jobs(obj: CliContext, older_than: timedelta | None) -> None:
    """Delete finished jobs and quiet event streams now, as the hourly retention job does."""
    from pcm_ops.jobs.retention import prune

    settings = obj.settings()
    age = older_than or timedelta(days=settings.jobs_retention_days)
    store = _store(settings)
    try:
        result = prune(settings, store, age)
    finally:
        store.close()
    click.echo(
        f"deleted {result.jobs} job(s), {result.streams} stream(s), {result.events} event(s)"
    )
