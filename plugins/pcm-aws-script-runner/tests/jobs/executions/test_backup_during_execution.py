"""``pcm-ops db backup`` taken while an execution runs (SQLite): the copy restores into a
new data directory with the same key, holds the run as it was at the moment of the backup
and its account's credentials, which still decrypt there."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome

pytestmark = [
    pytest.mark.pcm_plugins("aws-common", "aws-script-runner"),
    pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True),
]

PCM_OPS = Path(sys.executable).with_name("pcm-ops")


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    env.update({"PCM_DATA_DIR": str(data_dir), "PCM_PLUGINS": "aws-common,aws-script-runner"})
    return subprocess.run(
        [str(PCM_OPS), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def test_a_backup_taken_during_an_execution_restores_with_its_secrets(
    make_fleet: Any, moto_aws: Any, pcm_settings: Any, tmp_path: Path
) -> None:
    from sqlmodel import select

    from pcm_aws_common.models import AwsCredentialSource
    from pcm_aws_script_runner.models import AwsSrExecution
    from pcm_ops.db.engine import Database
    from pcm_ops.settings import load_settings

    fleet = await make_fleet(us_east_1=4)
    management = moto_aws.account("management")
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start(max_concurrency=2)
    await fleet.wait(execution["id"], statuses=("running",))
    backup = tmp_path / "backup" / "pcm-ops.db"
    backup.parent.mkdir()

    # The server keeps polling and writing while the copy is taken (in another process).
    taken = await asyncio.to_thread(_cli, pcm_settings.data_dir, "db", "backup", str(backup))
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success"))
    for command in moto_aws.ssm.commands():
        for instance_id in command["instance_ids"]:
            moto_aws.ssm.set_invocation(
                command["command_id"], instance_id, InvocationOutcome("Success")
            )
    done = await fleet.wait(execution["id"])

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy2(pcm_settings.data_dir / "secret.key", restored_dir / "secret.key")
    restored = await asyncio.to_thread(_cli, restored_dir, "db", "restore", str(backup))

    assert taken.returncode == 0, taken.stderr
    assert "secret key is not in the backup" in taken.stdout
    assert done["status"] == "succeeded"
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "decrypts the restored secrets" in restored.stdout
    database = Database(load_settings(data_dir=restored_dir, plugins=pcm_settings.plugins))
    try:
        async with database.session() as session:
            run = await session.get(AwsSrExecution, execution["id"])
            sources = (await session.exec(select(AwsCredentialSource))).all()
    finally:
        await database.dispose()
    assert run is not None
    assert run.status in ("running", "queued")  # as it was when the copy was taken
    assert management.secret_access_key in {source.secret_access_key for source in sources}
