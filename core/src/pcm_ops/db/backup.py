"""Online backups of a SQLite installation, and restoring them (``pcm-ops db backup`` and
``pcm-ops db restore``).

A backup is made with SQLite's backup API from a connection of its own: one read
transaction copies every page, so the copy is consistent even while a server writes (in
WAL mode writers are not blocked; in rollback mode they wait for the copy). The jobs
database (DBOS's ``pcm-ops-dbos.sqlite``, when there is one) is copied beside it, as
``FILE.jobs``.

A restore checks that the file is a PCM-Ops database (SQLite's integrity check, core's
tables, and every migration revision it records known to this installation), copies it
into place through a temporary file, and checks that this process's secret key decrypts
its secrets. Neither file holds the secret key: it must be backed up with them.

PostgreSQL is backed up with its own tools (``pg_dump``/``pg_restore``; see
docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pcm_ops.errors import PcmOpsError

if TYPE_CHECKING:
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

__all__ = ["BackupError", "BackupReport", "RestoreReport", "backup", "jobs_copy", "restore"]

#: Where docs/operations.md explains PostgreSQL backups.
POSTGRES_DOCS = "docs/operations.md, 'Backup and restore'"

#: What every backup and restore reminds of.
KEY_REMINDER = (
    "The secret key is not in the backup: keep PCM_SECRET_KEY (or the data directory's "
    "secret.key) with it, separately; without it the stored secrets cannot be read."
)

_SQLITE_HEADER = b"SQLite format 3\x00"


class BackupError(PcmOpsError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupReport:
    database: Path
    jobs: Path | None
    size: int
    revisions: list[str]


@dataclass(frozen=True)
class RestoreReport:
    database: Path
    jobs: Path | None
    revisions: list[str]
    #: Trees the restored database is behind on: ``pcm-ops db upgrade`` applies them.
    pending: dict[str, list[str]] = field(default_factory=dict)


def jobs_copy(path: Path) -> Path:
    """Where the backup of the jobs database goes for a backup at ``path``."""
    return path.with_name(path.name + ".jobs")


def sqlite_path(settings: Settings, action: str) -> Path:
    """The SQLite file of ``settings``; a PostgreSQL installation is refused."""
    from sqlalchemy.engine import make_url

    if not settings.is_sqlite:
        tool = "pg_dump" if action == "backup" else "pg_restore"
        raise BackupError(
            f"pcm-ops db {action} works on SQLite; this installation uses PostgreSQL. "
            f"Use {tool} (see {POSTGRES_DOCS}), and keep the secret key with the dump."
        )
    database = make_url(settings.effective_database_url).database
    if not database or database == ":memory:":
        raise BackupError("the database is in memory: there is nothing to back up or restore")
    return Path(database)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _copy(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` (replaced) with the backup API."""
    with (
        contextlib.closing(_read_only(source)) as origin,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        # All pages in one step: one read transaction, so one consistent snapshot.
        origin.backup(copy)
        # A file of its own: no WAL beside it, readable by any SQLite.
        copy.execute("PRAGMA journal_mode=DELETE")


def _revisions(path: Path) -> list[str]:
    with contextlib.closing(_read_only(path)) as connection:
        return sorted(
            row[0] for row in connection.execute("SELECT version_num FROM alembic_version")
        )


def backup(settings: Settings, target: Path, *, force: bool = False) -> BackupReport:
    """Copy the installation's SQLite database (and its jobs database) to ``target``.

    :raises BackupError: PostgreSQL, no database yet, ``target`` exists without ``force``.
    """
    from pcm_ops.jobs.service import SQLITE_SYSTEM_DATABASE

    source = sqlite_path(settings, "backup")
    if not source.exists():
        raise BackupError(f"there is no database at {source} to back up")
    target = target.expanduser().resolve()
    if target == source.resolve():
        raise BackupError("the backup file must not be the database itself")
    targets = [target]
    jobs_source = settings.data_dir / SQLITE_SYSTEM_DATABASE
    jobs_target = jobs_copy(target) if jobs_source.exists() else None
    if jobs_target is not None:
        targets.append(jobs_target)
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        raise BackupError(f"{', '.join(existing)} exists; give another name, or --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    for origin, destination in ((source, target), (jobs_source, jobs_target)):
        if destination is None:
            continue
        partial = destination.with_name(destination.name + ".partial")
        try:
            _copy(origin, partial)
            _check_integrity(partial)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)
    return BackupReport(target, jobs_target, target.stat().st_size, _revisions(target))


def _check_integrity(path: Path) -> None:
    with contextlib.closing(_read_only(path)) as connection:
        result = connection.execute("PRAGMA quick_check").fetchone()
    if not result or result[0] != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check: {result[0] if result else '?'}")


def _check_is_pcm_ops(path: Path) -> None:
    """Refuse a file that is not a PCM-Ops SQLite database."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file")
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            raise BackupError(f"{path} is not an SQLite database (a PCM-Ops backup is one)")
    try:
        _check_integrity(path)
        with contextlib.closing(_read_only(path)) as connection:
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as an SQLite database: {exc}") from None
    missing = {"alembic_version", "pcm_user", "pcm_secret_key_check"} - tables
    if missing:
        raise BackupError(
            f"{path} is not a PCM-Ops database (no {', '.join(sorted(missing))} table); "
            "restore a file made by 'pcm-ops db backup'"
        )


def _has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with contextlib.closing(_read_only(path)) as connection:
        count = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table'"
        ).fetchone()[0]
    return bool(count)


def _live_executors(path: Path, within: timedelta) -> list[str]:
    """Executors with a heartbeat in the database at ``path`` more recent than ``within``."""
    cutoff = datetime.now(UTC) - within
    try:
        with contextlib.closing(_read_only(path)) as connection:
            rows = connection.execute(
                "SELECT executor_id, heartbeat_at FROM pcm_job_executor WHERE stopped_at IS NULL"
            ).fetchall()
    except sqlite3.DatabaseError:
        return []
    live = []
    for executor_id, heartbeat in rows:
        try:
            at = datetime.fromisoformat(str(heartbeat))
        except ValueError:
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if at >= cutoff:
            live.append(str(executor_id))
    return live


def _remove_with_journals(path: Path) -> None:
    """Remove a database and the WAL files a stopped process may have left beside it (a
    stale WAL would be replayed into the restored file)."""
    for suffix in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def restore(
    settings: Settings, registry: PluginRegistry, source: Path, *, force: bool = False
) -> RestoreReport:
    """Put the backup ``source`` (and ``source.jobs`` when it exists) in place of the
    installation's SQLite database, then check the secret key against it.

    :raises BackupError: PostgreSQL; ``source`` is not a PCM-Ops database or was made by a
        newer version; the database is not empty and ``force`` is not given; a process
        still uses it.
    :raises pcm_ops.security.secrets.KeyMismatchError: restored, but this process's key
        cannot decrypt its secrets.
    """
    from pcm_ops.db.migrations import _Environment
    from pcm_ops.jobs.service import SQLITE_SYSTEM_DATABASE
    from pcm_ops.security.secrets import verify_key

    target = sqlite_path(settings, "restore")
    source = source.expanduser().resolve()
    _check_is_pcm_ops(source)
    jobs_source = jobs_copy(source)
    jobs_target = settings.data_dir / SQLITE_SYSTEM_DATABASE
    if _has_tables(target):
        if not force:
            raise BackupError(
                f"{target} already holds a database; restore into a new data directory "
                "(PCM_DATA_DIR), or stop every process using it and give --force to replace it"
            )
        heartbeat = timedelta(seconds=3 * settings.jobs_heartbeat_seconds)
        live = _live_executors(target, heartbeat)
        if live:
            raise BackupError(
                f"{target} is in use: {', '.join(live)} recorded a heartbeat in the last "
                f"{heartbeat.total_seconds():g} s; stop the server and workers first"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    try:
        _copy(source, staged)
        # Computed from the recorded revisions, without opening the staged file through
        # the application's engine (which would put it in WAL mode beside its name).
        revisions = _revisions(staged)
        environment = _Environment.build(settings, registry)
        rows = environment.status(set(revisions))
        known = {script.revision for script in environment.scripts().walk_revisions()}
        unknown = [revision for revision in revisions if revision not in known]
        if unknown:
            raise BackupError(
                f"{source} records migration revision(s) {', '.join(unknown)}, which this "
                "installation does not have (a newer version, or a plugin not installed or "
                "not enabled here): restore it with those"
            )
        _remove_with_journals(target)
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    restored_jobs: Path | None = None
    if jobs_source.exists():
        _remove_with_journals(jobs_target)
        partial = jobs_target.with_name(jobs_target.name + ".restoring")
        try:
            _copy(jobs_source, partial)
            os.replace(partial, jobs_target)
        finally:
            partial.unlink(missing_ok=True)
        restored_jobs = jobs_target
    pending = {row.owner: row.pending for row in rows if row.pending}
    verify_key(settings, registry)
    return RestoreReport(target, restored_jobs, revisions, pending)
