"""``pcm-ops jobs`` and ``pcm-ops worker`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _run(settings: Any, *args: str) -> Any:
    from pcm_ops.cli.main import cli

    env = {
        "PCM_DATA_DIR": str(settings.data_dir),
        "PCM_PLUGINS": "",
        "PCM_DATABASE_URL": settings.database_url or "",
    }
    env = {name: value for name, value in env.items() if value}
    return CliRunner().invoke(cli, list(args), env=env)


@SQLITE
async def test_jobs_can_be_listed_shown_and_cancelled_from_the_command_line(
    running_app: Any, work_dir: Path
) -> None:
    import anyio.to_thread

    from pcm_ops.jobs import enqueue_async

    done = await enqueue_async("jobs-test.ticker", str(work_dir), 1, 0.0, queue="jobs-test.work")
    await running_app.wait_for_state(done, "succeeded")
    busy = await enqueue_async("jobs-test.ticker", str(work_dir), 50, 0.2, queue="jobs-test.work")
    await running_app.wait_for_state(busy, "running")
    settings = running_app.settings

    listed = await anyio.to_thread.run_sync(_run, settings, "jobs", "list", "--json")
    shown = await anyio.to_thread.run_sync(_run, settings, "jobs", "show", done)
    cancelled = await anyio.to_thread.run_sync(_run, settings, "jobs", "cancel", busy)
    again = await anyio.to_thread.run_sync(_run, settings, "jobs", "cancel", done)
    audit = await anyio.to_thread.run_sync(_run, settings, "audit", "tail", "--json")

    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(row["id"], row["state"]) for row in rows] == [(busy, "running"), (done, "succeeded")]
    assert "state:         succeeded" in shown.output
    assert "succeeded  jobs-test.tick" in shown.output
    assert cancelled.exit_code == 0, cancelled.output
    assert f"cancelled {busy}" in cancelled.output
    assert again.exit_code == 1  # `pcm-ops` prints PcmOpsError's message: see pcm_ops.cli.main
    assert "has already finished (succeeded); nothing to cancel" in str(again.exception)
    [event] = [json.loads(line) for line in audit.output.splitlines()]
    assert (event["action"], event["object_id"]) == ("core.job.cancel", busy)
    assert event["actor"].startswith("cli:")
    await running_app.wait_for_state(busy, "cancelled")


@SQLITE
def test_recover_refuses_a_stale_after_shorter_than_three_heartbeats(job_settings: Any) -> None:
    result = _run(job_settings, "jobs", "recover", "--stale-after", "1s")

    assert result.exit_code == 2
    assert "must be at least 3 heartbeats" in result.output


@SQLITE
def test_a_worker_asked_for_an_unknown_queue_says_which_exist(
    job_settings: Any, registry: Any, migrated: None
) -> None:
    from pcm_ops.jobs.errors import JobsError
    from pcm_ops.jobs.worker import run_worker

    with pytest.raises(
        JobsError,
        match=r"unknown queue.*nope; the loaded plugins declare: "
        r"core\.default, core\.maintenance, jobs-test\.limited",
    ):
        run_worker(job_settings, registry, queues=["nope"])


def test_the_command_line_and_discovery_do_not_import_the_job_engine(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from pcm_ops.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'dbos' not in sys.modules, 'pcm-ops --help imported DBOS'\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PCM_DATA_DIR": str(tmp_path), "PATH": ""},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("clean")
