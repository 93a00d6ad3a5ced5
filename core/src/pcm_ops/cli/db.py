"""``pcm-ops db``: migrate, inspect, seed, back up and restore the database.

The commands that change the database take the migration lock, so that they never run at
the same time as each other or as a server started with ``--migrate``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pcm_ops.cli.main import CliContext

if TYPE_CHECKING:
    from pcm_ops.db.migrations import BranchStatus


@click.group()
def db() -> None:
    """Migrate, inspect, seed, back up and restore the database."""


@db.command()
@click.argument("target", default="heads")
@click.pass_obj
def upgrade(obj: CliContext, target: str) -> None:
    """Apply migrations up to TARGET (default: heads, every tree to its newest revision).

    TARGET is 'heads', '<plugin>@head', '<plugin>@<revision>' or a revision id; 'core'
    names core's own tree.
    """
    from pcm_ops.db import migrations
    from pcm_ops.db.lock import migration_lock

    settings, registry = obj.settings(), obj.registry()
    with migration_lock(settings):
        before = migrations.branch_status(settings, registry)
        migrations.upgrade(settings, registry, target)
        after = migrations.branch_status(settings, registry)
    _echo_changes(before, after)


@db.command()
@click.argument("target")
@click.pass_obj
def downgrade(obj: CliContext, target: str) -> None:
    """Revert migrations down to TARGET.

    '<plugin>@base' removes that plugin's tables (and nothing else); '<plugin>@-1' reverts
    its newest revision; '<plugin>@<revision>' goes back to that revision.
    """
    from pcm_ops.db import migrations
    from pcm_ops.db.lock import migration_lock

    settings, registry = obj.settings(), obj.registry()
    with migration_lock(settings):
        before = migrations.branch_status(settings, registry)
        migrations.downgrade(settings, registry, target)
        after = migrations.branch_status(settings, registry)
    _echo_changes(before, after)


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: CliContext, as_json: bool) -> None:
    """Show each tree's current and head revision and what is pending."""
    from pcm_ops.db.migrations import branch_status

    rows = branch_status(obj.settings(), obj.registry())
    if as_json:
        report = [{**asdict(row), "at_head": row.at_head} for row in rows]
        click.echo(json.dumps(report, indent=2))
        return
    width = max(len(row.owner) for row in rows) + 2
    click.echo(f"{'TREE':<{width}}{'CURRENT':<16}{'HEAD':<16}PENDING")
    for row in rows:
        pending = ", ".join(row.pending) if row.pending else "-"
        click.echo(
            f"{row.owner:<{width}}{row.current or '(none)':<16}{row.head or '(none)':<16}{pending}"
        )


@db.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Exit 1, listing the differences, when the models and the migrations disagree.

    The database must be up to date (run 'pcm-ops db upgrade' first).
    """
    from pcm_ops.db import migrations

    obj: CliContext = ctx.obj
    differences = migrations.check(obj.settings(), obj.registry())
    if not differences:
        click.echo("Models and migrations agree.")
        return
    click.echo(f"{len(differences)} difference(s) between the models and the migrations:")
    for difference in differences:
        click.echo(f"  {difference}")
    click.echo("Generate a revision with 'pcm-ops db revision <plugin> -m \"...\"'.")
    ctx.exit(1)


@db.command()
@click.option("--demo", is_flag=True, help="Also run the seeds meant for demo mode.")
@click.pass_context
def seed(ctx: click.Context, demo: bool) -> None:
    """Run the plugins' seeds that have not run at their current version."""
    from pcm_ops.db.seeds import SeedStatus, run_seeds_sync

    obj: CliContext = ctx.obj
    settings = obj.settings()
    outcomes = run_seeds_sync(settings, obj.registry(), demo=demo or settings.demo)
    if not outcomes:
        click.echo("No seeds.")
    for outcome in outcomes:
        click.echo(outcome.describe(), err=outcome.status is SeedStatus.FAILED)
    if any(not outcome.ok for outcome in outcomes):
        ctx.exit(1)


@db.command()
@click.argument("owner")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option(
    "--empty", is_flag=True, help="Write an empty revision instead of comparing with the models."
)
@click.pass_obj
def revision(obj: CliContext, owner: str, message: str, empty: bool) -> None:
    """Write a new revision for OWNER ('core' or a plugin id) into its version directory.

    By default the revision holds the operations that bring an up-to-date database to
    OWNER's models; review it before committing it.
    """
    from pcm_ops.db import migrations

    settings, registry = obj.settings(), obj.registry()
    path = migrations.revision(settings, registry, owner, message, autogenerate=not empty)
    click.echo(f"Wrote {path}")


@db.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE (and FILE.jobs) if they exist.")
@click.pass_obj
def backup(obj: CliContext, file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE while the server runs (and the jobs database to
    FILE.jobs). PostgreSQL: use pg_dump (docs/operations.md). The secret key is not in FILE:
    back it up too."""
    from pcm_ops.db.backup import KEY_REMINDER
    from pcm_ops.db.backup import backup as run_backup

    report = run_backup(obj.settings(), file, force=force)
    click.echo(f"Backed up the database to {report.database} ({report.size:,} bytes).")
    if report.jobs is not None:
        click.echo(f"Backed up the jobs database to {report.jobs}.")
    click.echo(f"Migration revisions: {', '.join(report.revisions) or 'none'}.")
    click.echo(KEY_REMINDER)


@db.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a database that is not empty (every process using it must be stopped).",
)
@click.pass_obj
def restore(obj: CliContext, file: Path, force: bool) -> None:
    """Restore a backup made by 'pcm-ops db backup' (and FILE.jobs beside it) into this
    data directory: a new one, or one whose processes are stopped. Run it with the secret
    key of the installation that made the backup."""
    from pcm_ops.db.backup import KEY_REMINDER
    from pcm_ops.db.backup import restore as run_restore
    from pcm_ops.db.lock import migration_lock

    settings, registry = obj.settings(), obj.registry()
    with migration_lock(settings):
        report = run_restore(settings, registry, file, force=force)
    click.echo(f"Restored {file} into {report.database}.")
    if report.jobs is not None:
        click.echo(f"Restored the jobs database into {report.jobs}.")
    click.echo("The secret key decrypts the restored secrets.")
    for owner, pending in report.pending.items():
        click.echo(f"{owner}: {len(pending)} migration(s) pending; run 'pcm-ops db upgrade'.")
    click.echo(KEY_REMINDER)


def _echo_changes(before: list[BranchStatus], after: list[BranchStatus]) -> None:
    previous = {row.owner: row.current for row in before}
    changed = False
    for row in after:
        if previous.get(row.owner) != row.current:
            changed = True
            was = previous.get(row.owner) or "(none)"
            click.echo(f"{row.owner}: {was} -> {row.current or '(none)'}")
    if not changed:
        click.echo("Nothing to do.")
