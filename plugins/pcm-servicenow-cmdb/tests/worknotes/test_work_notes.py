"""Work notes back to the change: one note when a change-linked run starts and one when it
ends, exactly once, delivered after an outage; against the fake ServiceNow over HTTP and the
fake AWS, through the script runner's ``aws_sr_execution_events``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pcm_aws_script_runner.hooktypes import ExecutionEvent

API = "/api/tools/servicenow/cmdb"


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner", "servicenow-cmdb"]


@pytest.fixture
def pcm_settings(make_pcm_settings, moto_aws, monkeypatch):
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    return make_pcm_settings(
        public_url="https://pcm.example.com",
        plugin_sections={
            "servicenow-cmdb": {"work_note_retry_seconds": 0.2, "work_note_retry_max_seconds": 0.5}
        },
    )


def event(kind: str = "finished", **fields: Any) -> ExecutionEvent:
    values: dict[str, Any] = {
        "kind": kind,
        "key": f"execution-42-{kind}",
        "execution_id": 42,
        "script_id": 7,
        "script_name": "patch-openssl",
        "script_version": 3,
        "script_sha256": "ab" * 32,
        "language": "shell",
        "requested_by": "alice",
        "status": "failed" if kind == "finished" else "running",
        "status_reason": "2 of 12 instances failed" if kind == "finished" else "",
        "target_count": 12,
        "counts": {"Success": 10, "Failed": 2} if kind == "finished" else {"Pending": 12},
        "failed_instances": ("i-0000000000000000a", "i-0000000000000000b"),
        "failed_total": 2 if kind == "finished" else 0,
        "change_reference": "CHG0030001",
        "path": "/tools/aws/script-runner/executions/42",
        "url": "https://pcm.example.com/tools/aws/script-runner/executions/42",
    }
    return ExecutionEvent(**{**values, **fields})


async def _until(predicate: Any, limit: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


class TestNoteText:
    def test_a_started_note_says_what_runs_for_whom_and_where_to_watch(self) -> None:
        from pcm_servicenow_cmdb.services.worknotes import note_text

        text = note_text(event("started", failed_instances=()))

        assert text.splitlines() == [
            "[PCM-Ops] Execution #42 started: patch-openssl v3 (shell, SHA-256 " + "ab" * 32 + ")",
            "Run by: alice",
            "Targets: 12 instances",
            "Details: https://pcm.example.com/tools/aws/script-runner/executions/42",
            "Reference: pcm-ops:execution-42-started@pcm.example.com",
        ]

    def test_a_finished_note_gives_counts_failures_and_the_reason(self) -> None:
        from pcm_servicenow_cmdb.services.worknotes import note_text

        text = note_text(event("finished", comment="CVE-2026-0001"))

        assert "[PCM-Ops] Execution #42 failed: patch-openssl v3" in text
        assert "Instances by status: Failed 2, Success 10" in text
        assert "Failed instances: i-0000000000000000a, i-0000000000000000b" in text
        assert "Reason: 2 of 12 instances failed" in text
        assert "Comment: CVE-2026-0001" in text
        assert text.endswith("Reference: pcm-ops:execution-42-finished@pcm.example.com")

    def test_many_failures_are_named_up_to_twenty_and_counted(self) -> None:
        from pcm_servicenow_cmdb.services.worknotes import note_text

        ids = tuple(f"i-{n:017x}" for n in range(100))
        text = note_text(event(failed_instances=ids, failed_total=250))

        line = next(x for x in text.splitlines() if x.startswith("Failed instances"))
        assert line.count("i-") == 20
        assert line.endswith("and 230 more")


class TestDeliver:
    async def test_a_note_is_appended_once_even_when_delivered_twice(self, connected) -> None:
        from pcm_servicenow_cmdb.services.worknotes import DELIVERED, FOUND, deliver

        change = connected.add("change_request", short_description="Patch")
        number = connected.get(change)["number"]
        async with _client(connected) as client:
            first = await deliver(
                client, number, "note one\nReference: pcm-ops:k1@h", "pcm-ops:k1@h"
            )
            again = await deliver(
                client, number, "note one\nReference: pcm-ops:k1@h", "pcm-ops:k1@h"
            )
            other = await deliver(
                client, number, "note two\nReference: pcm-ops:k2@h", "pcm-ops:k2@h"
            )

        assert (first, again, other) == (DELIVERED, FOUND, DELIVERED)
        assert connected.journal(change) == [
            "note one\nReference: pcm-ops:k1@h",
            "note two\nReference: pcm-ops:k2@h",
        ]

    async def test_a_lost_answer_is_looked_up_not_sent_again(self, connected) -> None:
        from pcm_servicenow_cmdb.client import ServiceNowError
        from pcm_servicenow_cmdb.services.worknotes import FOUND, deliver

        change = connected.add("change_request", short_description="Patch")
        number = connected.get(change)["number"]
        connected.lose_next_answers("PATCH")
        async with _client(connected) as client:
            with pytest.raises(ServiceNowError) as lost:
                await deliver(client, number, "the note\nReference: pcm-ops:k@h", "pcm-ops:k@h")
            retried = await deliver(
                client, number, "the note\nReference: pcm-ops:k@h", "pcm-ops:k@h"
            )

        assert lost.value.outcome_unknown
        assert retried == FOUND
        assert connected.journal(change) == ["the note\nReference: pcm-ops:k@h"]
        assert len(connected.table_requests("change_request", "PATCH")) == 1


def _client(fake: Any) -> Any:
    from pcm_servicenow_cmdb.client import ConnectionSettings, ServiceNowClient
    from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

    return ServiceNowClient(
        ConnectionSettings(
            name="acme",
            base_url=fake.url,
            auth_kind="basic",
            username=DEFAULT_USERNAME,
            password=DEFAULT_PASSWORD,
        )
    )


class TestChangeLinkedRuns:
    async def test_a_run_writes_one_note_when_it_starts_and_one_when_it_ends(
        self, connected, aws_sr_fleet
    ) -> None:
        change = connected.add("change_request", short_description="Patch", state="-1")
        number = connected.get(change)["number"]
        fleet = await aws_sr_fleet(us_east_1=2)

        execution = await fleet.start(change_reference=number.lower())
        done = await fleet.wait(execution["id"])
        await _until(lambda: len(connected.journal(change)) >= 2)
        await asyncio.sleep(0.5)  # nothing more arrives

        started, finished = connected.journal(change)
        url = f"https://pcm.example.com/tools/aws/script-runner/executions/{execution['id']}"
        assert done["status"] == "succeeded"
        assert started.startswith(f"[PCM-Ops] Execution #{execution['id']} started: hello v1")
        assert "Targets: 2 instances" in started
        assert f"Details: {url}" in started
        assert finished.startswith(f"[PCM-Ops] Execution #{execution['id']} succeeded: hello v1")
        assert "Instances by status: Success 2" in finished
        assert done["script_sha256"] in finished

    async def test_notes_wait_out_an_outage_and_a_lost_answer_without_duplicates(
        self, connected, aws_sr_fleet
    ) -> None:
        change = connected.add("change_request", short_description="Patch", state="-1")
        number = connected.get(change)["number"]
        fleet = await aws_sr_fleet(us_east_1=1)
        connected.outage(True)

        execution = await fleet.start(change_reference=number)
        done = await fleet.wait(execution["id"])
        await asyncio.sleep(1.0)  # a few attempts fail meanwhile
        during = connected.journal(change)
        connected.lose_next_answers(
            "PATCH"
        )  # the first PATCH after the outage is applied, its answer lost
        connected.outage(False)
        await _until(lambda: len(connected.journal(change)) >= 2)
        await asyncio.sleep(1.0)  # retries after the lost answer find the note

        notes = connected.journal(change)
        assert done["status"] == "succeeded"
        assert during == []
        assert len(notes) == 2
        assert sorted(note.split(":")[0] for note in notes) == [
            f"[PCM-Ops] Execution #{execution['id']} started",
            f"[PCM-Ops] Execution #{execution['id']} succeeded",
        ]

    async def test_a_run_without_a_change_writes_nothing(self, connected, aws_sr_fleet) -> None:
        fleet = await aws_sr_fleet(us_east_1=1)

        execution = await fleet.start()
        await fleet.wait(execution["id"])
        await asyncio.sleep(0.5)

        assert connected.table_requests("change_request", "PATCH") == []
