"""``pcm-ops script-runner inventory list | status | sync`` on the test's database."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

A = "111100000001"
sqlite_only = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def run(pcm_cli: Any) -> Any:
    """``run("script-runner", "inventory", "list")`` on a migrated database holding two
    instances of one account-region and a failed sync of another."""
    run = pcm_cli("aws-common", "aws-script-runner")
    asyncio.run(_seed())
    return run


async def _seed() -> None:
    from pcm_aws_script_runner.services.inventory.sync_writes import (
        InstanceRecord,
        mark_sync_error,
        save_account_region,
    )
    from pcm_ops.db.engine import Database
    from pcm_ops.settings import load_settings

    database = Database(load_settings())
    try:
        async with database.session() as session:
            await save_account_region(
                session,
                A,
                "us-east-1",
                [
                    InstanceRecord("i-0aaa", name="web-1", state="running", platform="Linux"),
                    InstanceRecord("i-0bbb", name="db-1", state="stopped", platform="Windows"),
                ],
            )
            await mark_sync_error(session, A, "eu-west-1", "AccessDenied: no", job_id=None)
    finally:
        await database.dispose()


def test_list_filters_and_prints_json(run: Any) -> None:
    text = run("script-runner", "inventory", "list", "--state", "running")
    as_json = run("script-runner", "inventory", "list", "--platform", "windows", "--json")

    assert text.exit_code == 0, text.stderr
    assert "i-0aaa" in text.stdout
    assert "i-0bbb" not in text.stdout
    page = json.loads(as_json.stdout)
    assert [item["name"] for item in page["items"]] == ["db-1"]
    assert page["total"] == 1


@sqlite_only
def test_a_bad_filter_is_a_clear_error(run: Any) -> None:
    outcome = run("script-runner", "inventory", "list", "--ping-status", "Sleepy")

    assert outcome.exit_code == 1
    assert "ping_status: 'Sleepy' is not an SSM ping status" in outcome.stderr


def test_status_shows_each_account_region_and_its_error(run: Any) -> None:
    outcome = run("script-runner", "inventory", "status")

    assert outcome.exit_code == 0, outcome.stderr
    assert f"{A} us-east-1" in outcome.stdout
    assert "error: AccessDenied: no" in outcome.stdout
    assert "1 account-region(s) failed to sync" in outcome.stdout


@sqlite_only
def test_sync_queues_a_job_for_the_server_to_run(run: Any) -> None:
    from pcm_ops.jobs.service import JobStore
    from pcm_ops.settings import load_settings

    outcome = run("script-runner", "inventory", "sync")

    assert outcome.exit_code == 0, outcome.stderr
    job_id = outcome.stdout.split("job ")[1].split()[0]
    store = JobStore(load_settings())
    try:
        job = store.get(job_id, with_steps=False)
    finally:
        store.close()
    assert (job.name, job.state.value, job.queue) == (
        "aws-script-runner.inventory_sync",
        "queued",
        "aws-script-runner.inventory",
    )


@sqlite_only
def test_sync_wait_says_when_nothing_runs_the_job(run: Any) -> None:
    outcome = run("script-runner", "inventory", "sync", "--wait", "--timeout", "1")

    assert outcome.exit_code == 1
    assert "no server or worker took it" in outcome.stderr


@sqlite_only
def test_sync_of_an_unknown_account_is_refused(run: Any) -> None:
    bad = run("script-runner", "inventory", "sync", "--account", "42")
    unknown = run("script-runner", "inventory", "sync", "--account", "999999999999")

    assert bad.exit_code == 1
    assert "--account: '42' is not an AWS account id" in bad.stderr
    assert unknown.exit_code == 1
    assert "999999999999 not in the accounts registry" in unknown.stderr
