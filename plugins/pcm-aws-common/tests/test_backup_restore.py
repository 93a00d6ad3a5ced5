"""``pcm-ops db backup`` / ``pcm-ops db restore`` on SQLite, as an operator runs them: an
online backup taken while another connection writes, restored into a new data directory
with the same key, where an AWS credential still decrypts; and what restore refuses."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

PCM_OPS = Path(sys.executable).with_name("pcm-ops")
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

pytestmark = pytest.mark.slow

WRITE_CREDENTIAL = textwrap.dedent(
    """
    import asyncio, sys
    import pcm_ops.security.models  # noqa: F401 (the tables its foreign keys name)
    from pcm_aws_common.models import AwsCredentialSource
    from pcm_ops.db.engine import Database
    from pcm_ops.security import secrets
    from pcm_ops.settings import load_settings

    async def main():
        settings = load_settings()
        secrets.configure(settings.data_dir)
        database = Database(settings)
        async with database.session() as session:
            session.add(AwsCredentialSource(
                name="prod-keys", partition_id="aws", kind="keys",
                access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=sys.argv[1],
                created_by="test"))
        await database.dispose()

    asyncio.run(main())
    """
)

READ_CREDENTIAL = textwrap.dedent(
    """
    import asyncio
    from sqlmodel import select
    import pcm_ops.security.models  # noqa: F401 (the tables its foreign keys name)
    from pcm_aws_common.models import AwsCredentialSource
    from pcm_ops.db.engine import Database
    from pcm_ops.security import secrets
    from pcm_ops.settings import load_settings

    async def main():
        settings = load_settings()
        secrets.configure(settings.data_dir)
        database = Database(settings)
        async with database.session() as session:
            row = (await session.exec(select(AwsCredentialSource))).one()
            print(row.name, row.access_key_id, row.secret_access_key)
        await database.dispose()

    asyncio.run(main())
    """
)


def environment(data_dir: Path, key: str, **variables: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    return {**clean, "PCM_DATA_DIR": str(data_dir), "PCM_SECRET_KEY": key, **variables}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PCM_OPS), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def python(env: dict[str, str], script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def installation(tmp_path: Path) -> tuple[Path, str]:
    """A migrated SQLite installation holding an AWS access-key credential source."""
    key = Fernet.generate_key().decode()
    data = tmp_path / "original"
    env = environment(data, key)
    upgraded = run(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    seeded = run(env, "db", "seed")  # the partitions a credential source belongs to
    assert seeded.returncode == 0, seeded.stderr
    written = python(env, WRITE_CREDENTIAL, SECRET)
    assert written.returncode == 0, written.stderr
    return data, key


class Writer(threading.Thread):
    """Inserts numbered rows, one transaction each, until stopped."""

    def __init__(self, database: Path) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.written = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self.database, timeout=30, isolation_level=None)
        connection.execute("CREATE TABLE IF NOT EXISTS backup_probe (n INTEGER PRIMARY KEY)")
        while not self.stopping.is_set():
            connection.execute("INSERT INTO backup_probe (n) VALUES (?)", (self.written + 1,))
            self.written += 1
        connection.close()


def test_a_backup_taken_during_writes_restores_with_every_secret(
    installation: tuple[Path, str], tmp_path: Path
) -> None:
    data, key = installation
    writer = Writer(data / "pcm-ops.db")
    writer.start()
    try:
        while writer.written < 50:  # the writer is under way before the backup starts
            threading.Event().wait(0.01)
        backed_up = run(environment(data, key), "db", "backup", str(tmp_path / "backup.db"))
        assert backed_up.returncode == 0, backed_up.stderr
    finally:
        writer.stopping.set()
        writer.join()
    assert "secret key is not in the backup" in backed_up.stdout

    restored_dir = tmp_path / "restored"
    restored = run(environment(restored_dir, key), "db", "restore", str(tmp_path / "backup.db"))
    assert restored.returncode == 0, restored.stderr
    assert "decrypts the restored secrets" in restored.stdout
    assert "secret key is not in the backup" in restored.stdout

    # A consistent copy: the rows committed before it, with no gap, and none after.
    with sqlite3.connect(restored_dir / "pcm-ops.db") as connection:
        numbers = [n for (n,) in connection.execute("SELECT n FROM backup_probe ORDER BY n")]
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert numbers == list(range(1, len(numbers) + 1))
    assert 50 <= len(numbers) <= writer.written

    read = python(environment(restored_dir, key), READ_CREDENTIAL)
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == ["prod-keys", "AKIAIOSFODNN7EXAMPLE", SECRET]
    listed = run(environment(restored_dir, key), "aws", "credentials", "list")
    assert listed.returncode == 0, listed.stderr
    assert "prod-keys" in listed.stdout
    assert SECRET not in listed.stdout


def test_restore_with_another_key_is_refused(
    installation: tuple[Path, str], tmp_path: Path
) -> None:
    data, key = installation
    assert run(environment(data, key), "db", "backup", str(tmp_path / "b.db")).returncode == 0
    other = Fernet.generate_key().decode()
    restored = run(
        environment(tmp_path / "elsewhere", other), "db", "restore", str(tmp_path / "b.db")
    )
    assert restored.returncode == 1
    assert "cannot decrypt" in restored.stderr


def test_restore_refuses_a_database_in_use_without_force(
    installation: tuple[Path, str], tmp_path: Path
) -> None:
    data, key = installation
    env = environment(data, key)
    assert run(env, "db", "backup", str(tmp_path / "b.db")).returncode == 0
    refused = run(env, "db", "restore", str(tmp_path / "b.db"))
    assert refused.returncode == 1
    assert "already holds a database" in refused.stderr
    assert "--force" in refused.stderr
    forced = run(env, "db", "restore", "--force", str(tmp_path / "b.db"))
    assert forced.returncode == 0, forced.stderr


def test_restore_refuses_a_file_that_is_not_a_pcm_ops_database(
    installation: tuple[Path, str], tmp_path: Path
) -> None:
    _data, key = installation
    env = environment(tmp_path / "new", key)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database")
    refused = run(env, "db", "restore", str(text_file))
    assert refused.returncode == 1
    assert "is not an SQLite database" in refused.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    refused = run(env, "db", "restore", str(other))
    assert refused.returncode == 1
    assert "is not a PCM-Ops database" in refused.stderr


def test_restore_refuses_a_backup_from_a_newer_version(
    installation: tuple[Path, str], tmp_path: Path
) -> None:
    data, key = installation
    assert run(environment(data, key), "db", "backup", str(tmp_path / "b.db")).returncode == 0
    newer = tmp_path / "newer.db"
    shutil.copy(tmp_path / "b.db", newer)
    with sqlite3.connect(newer) as connection:
        connection.execute("INSERT INTO alembic_version VALUES ('core_9999')")
    refused = run(environment(tmp_path / "new", key), "db", "restore", str(newer))
    assert refused.returncode == 1
    assert "core_9999" in refused.stderr
    assert not (tmp_path / "new" / "pcm-ops.db").exists()


def test_backup_of_a_postgresql_installation_points_at_pg_dump(tmp_path: Path) -> None:
    env = environment(
        tmp_path, Fernet.generate_key().decode(), PCM_DATABASE_URL="postgresql://pcm@db/pcm"
    )
    refused = run(env, "db", "backup", str(tmp_path / "b.db"))
    assert refused.returncode == 1
    assert "pg_dump" in refused.stderr
    assert "docs/operations.md" in refused.stderr
    assert not (tmp_path / "b.db").exists()
