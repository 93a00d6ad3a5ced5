"""A work note is written exactly once even when the worker that writes it is killed with
SIGKILL after ServiceNow applied its PATCH and before the job recorded it: the worker comes
back under the same executor id, the job resumes, finds its note in the change's journal and
does not PATCH again. A change-linked run on the fake AWS, its notes enqueued by the script
runner's ``aws_sr_execution_events`` in a ``pcm-ops worker`` process, the fake ServiceNow
over HTTP; SQLite, and PostgreSQL when ``PCM_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome

PLUGINS = "aws-common,aws-script-runner,servicenow-cmdb"
PUBLIC_URL = "https://pcm.example.com"

#: Quick polls, a quick job engine and quick work-note retries, in the server and the worker.
FAST_ENV = {
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.05",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.2",
    "PCM_SERVICENOW_CMDB__WORK_NOTE_RETRY_SECONDS": "0.2",
    "PCM_SERVICENOW_CMDB__WORK_NOTE_RETRY_MAX_SECONDS": "0.5",
}
FAST_JOBS = {
    "jobs_queue_poll_seconds": 0.05,
    "jobs_heartbeat_seconds": 0.5,
    "jobs_event_poll_seconds": 0.1,
}


@pytest.fixture
def pcm_plugins() -> list[str]:
    return PLUGINS.split(",")


@pytest.fixture
def pcm_settings(
    make_pcm_settings: Callable[..., Any], moto_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The server only enqueues and serves: a worker process runs the run and its notes."""
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)
    return make_pcm_settings(jobs_execute_in_server=False, public_url=PUBLIC_URL, **FAST_JOBS)


async def _until(predicate: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_worker_killed_between_the_patch_and_its_record_writes_each_note_once(
    connected, aws_sr_fleet, moto_aws, pcm_workers, pcm_admin_client
) -> None:
    change = connected.add("change_request", short_description="Patch", state="-1")
    number = connected.get(change)["number"]
    fleet = await aws_sr_fleet(us_east_1=2)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))  # the run goes on
    held = connected.hold_next_answers("PATCH")
    worker = pcm_workers.start("worker-1")

    execution = await fleet.start(change_reference=number)
    applied = await asyncio.to_thread(held.applied.wait, 20)
    assert applied, pcm_workers.logs()
    pcm_workers.kill(worker)  # SIGKILL: ServiceNow has the note; the job never heard so
    await _until(lambda: held.dropped == 1, "the killed worker's connection to close")
    notes_when_killed = connected.journal(change)
    patches_when_killed = len(connected.table_requests("change_request", "PATCH"))

    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success", output="done"))
    sent = [c for c in moto_aws.ssm.commands() if c["account"] == fleet.account_id]
    for command in sent:  # sent before the kill (recorded or not): let it end
        for instance_id in command["instance_ids"]:
            moto_aws.ssm.set_invocation(
                command["command_id"], instance_id, InvocationOutcome("Success")
            )
    pcm_workers.start("worker-1")  # the same executor id: DBOS resumes the note's job
    done = await fleet.wait(execution["id"], limit=30)
    notes = await _note_jobs(pcm_admin_client, wanted=2)

    started_note = f"[PCM-Ops] Execution #{execution['id']} started"
    finished_note = f"[PCM-Ops] Execution #{execution['id']} succeeded"
    assert len(notes_when_killed) == 1
    assert notes_when_killed[0].startswith(started_note)
    assert patches_when_killed == 1
    assert done["status"] == "succeeded", done
    assert [note.split(":")[0] for note in connected.journal(change)] == [
        started_note,
        finished_note,
    ]
    assert len(connected.table_requests("change_request", "PATCH")) == 2  # one per note
    assert notes == {
        "started": {"outcome": "already in the journal", "attempts": 1},
        "finished": {"outcome": "delivered", "attempts": 1},
    }, pcm_workers.logs()


async def _note_jobs(client: Any, wanted: int, limit: float = 20.0) -> dict[str, dict[str, Any]]:
    """The finished work-note jobs' results by event kind (``started``, ``finished``), once
    ``wanted`` of them have finished."""
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        listed = await client.get("/api/jobs", params={"plugin": "servicenow-cmdb"})
        assert listed.status_code == 200, listed.text
        finished = [job for job in listed.json()["jobs"] if job["state"] == "succeeded"]
        if len(finished) >= wanted:
            break
        assert asyncio.get_running_loop().time() < deadline, listed.json()
        await asyncio.sleep(0.1)
    results = {}
    for job in finished:
        detail = await client.get(f"/api/jobs/{job['id']}")
        assert detail.status_code == 200, detail.text
        result = detail.json()["result"]
        kind = result["marker"].split(":")[1].split("@")[0].rsplit("-", 1)[1]
        results[kind] = {"outcome": result["outcome"], "attempts": result["attempts"]}
    return results
