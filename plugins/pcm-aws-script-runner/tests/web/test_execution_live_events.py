"""What the execution page's event stream carries: every field the live page shows, with
the value a reload of the page shows (the stored one). execution-live.js applies these
events; test_browser_live.py watches it do so in Chromium."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome

pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")


async def events_of(fleet: Any, execution_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The finished execution's stream, as the page receives it: ``(type, data)`` pairs."""
    response = await fleet.get(f"/executions/{execution_id}/events")
    assert response.status_code == 200, response.text
    events: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    for line in response.text.splitlines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            payload = json.loads(line.removeprefix("data: "))
            events.append((kind, payload if kind == "end" else payload["data"]))
    return events


def instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


async def test_events_carry_when_the_run_started_and_finished(make_fleet):
    fleet = await make_fleet(us_east_1=1)
    execution = await fleet.start()
    stored = await fleet.wait(execution["id"])

    events = await events_of(fleet, execution["id"])

    runs = [data for kind, data in events if kind == "execution" and "status" in data]
    assert runs[0]["status"] == "running"
    assert instant(runs[0]["started_at"]) == instant(stored["started_at"])
    assert runs[-1]["status"] == "succeeded"
    assert instant(runs[-1]["finished_at"]) == instant(stored["finished_at"])


async def test_a_sent_batch_event_carries_when_it_was_sent_and_the_new_counts(make_fleet):
    fleet = await make_fleet(us_east_1=2)
    execution = await fleet.start()
    stored = await fleet.wait(execution["id"])

    events = await events_of(fleet, execution["id"])

    [sent] = [data for kind, data in events if kind == "batch" and data["status"] == "sent"]
    [batch] = stored["batches"]
    assert instant(sent["sent_at"]) == instant(batch["sent_at"])
    # Rows and counters agree: "Sent" on both, not "2 Pending" beside two Sent rows.
    assert sent["counts"] == {"Sent": 2}
    finished = [data for kind, data in events if kind == "batch" and data["status"] == "finished"]
    assert finished == [{"number": 1, "status": "finished"}]
    assert batch["status"] == "finished"


async def test_instance_events_carry_the_instance_times_and_truncation(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=2)
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Failed", output="half done", error="disk full", exit_code=3)
    )
    execution = await fleet.start()
    await fleet.wait(execution["id"])
    stored = {t["instance_id"]: t for t in await fleet.targets(execution["id"])}

    events = await events_of(fleet, execution["id"])

    latest: dict[str, dict[str, Any]] = {}
    for kind, data in events:
        if kind == "instances":
            latest.update({row["instance_id"]: row for row in data["instances"]})
    assert set(latest) == set(stored)
    for instance_id, row in latest.items():
        target = stored[instance_id]
        assert target["started_at"] is not None
        assert instant(row["started_at"]) == instant(target["started_at"])
        assert instant(row["ended_at"]) == instant(target["ended_at"])
        assert row["stderr"] == target["stderr"] == "disk full"
        assert row["stderr_truncated"] is target["stderr_truncated"] is False


async def test_held_batches_are_announced_with_their_reason_and_counts(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=1, us_west_2=1, eu_west_1=1)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed", exit_code=1))
    # A batch per region, one at a time, no error allowed: the first failure holds the rest.
    execution = await fleet.start(max_concurrency=1, max_errors=0)
    stored = await fleet.wait(execution["id"])

    events = await events_of(fleet, execution["id"])

    held = [data for kind, data in events if kind == "execution" and "held" in data]
    assert held, events
    assert held[-1]["counts"] == stored["counts"] == {"Failed": 1, "NotSent": 2}
    assert "max errors (0) exceeded" in held[-1]["reason"]


async def test_a_cancel_is_announced_with_who_asked_and_when(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=2)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start()
    await fleet.wait(execution["id"], statuses=("running",))
    cancel = await fleet.post(f"/executions/{execution['id']}/cancel")
    assert cancel.status_code == 202, cancel.text
    stored = await fleet.wait(execution["id"])

    events = await events_of(fleet, execution["id"])

    told = [data for kind, data in events if kind == "execution" and "cancel_requested_by" in data]
    assert stored["status"] == "cancelled"
    assert told, "no execution event said who asked for the cancel"
    assert {data["cancel_requested_by"] for data in told} == {stored["cancel_requested_by"]}
    assert instant(told[-1]["cancel_requested_at"]) == instant(stored["cancel_requested_at"])
    assert told[-1]["status"] == "cancelled"
