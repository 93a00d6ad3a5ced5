"""The execution job and other plugins: ``aws_sr_execution_events`` when a run starts and
when it finishes, and the pre-execution checks asked again when a queued run starts."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import pytest

# Hooks come from plugins, not from the database: run once.
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def _until(predicate: Any, limit: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


class TestExecutionEvents:
    @pytest.fixture
    def pcm_plugins(self, hook_plugins):
        return [
            "aws-common",
            "aws-script-runner",
            *hook_plugins("events_broken", "events_recorder"),
        ]

    async def test_started_and_finished_each_announced_once_with_the_outcome(
        self, make_fleet, caplog
    ):
        recorder = sys.modules["pcm_sr_test_plugins.events_recorder"]
        broken = sys.modules["pcm_sr_test_plugins.events_broken"]
        fleet = await make_fleet(us_east_1=2, eu_west_1=1)
        caplog.set_level(logging.ERROR, logger="pcm_aws_script_runner.events")

        execution = await fleet.start(change_reference="CHG0000007", comment="patch")
        done = await fleet.wait(execution["id"])
        await _until(lambda: len(recorder.EVENTS) >= 2)
        await asyncio.sleep(0.3)  # nothing more arrives

        assert done["status"] == "succeeded"
        assert [event.kind for event, _ in recorder.EVENTS] == ["started", "finished"]
        assert {plugin for _, plugin in recorder.EVENTS} == {"sr-events-recorder"}
        started, finished = (event for event, _ in recorder.EVENTS)
        assert started.key == f"execution-{execution['id']}-started"
        assert finished.key == f"execution-{execution['id']}-finished"
        assert started.status == "running"
        assert started.started_at is not None
        assert started.finished_at is None
        assert finished.status == "succeeded"
        assert finished.counts == {"Success": 3}
        assert finished.failed_instances == ()
        assert finished.failed_total == 0
        assert finished.finished_at is not None
        for event in (started, finished):
            assert event.execution_id == execution["id"]
            assert event.script_name == "hello"
            assert event.script_version == 1
            assert len(event.script_sha256) == 64
            assert event.change_reference == "CHG0000007"
            assert event.comment == "patch"
            assert event.target_count == 3
            assert event.path == f"/tools/aws/script-runner/executions/{execution['id']}"
            assert event.url.endswith(event.path)
            assert event.url.startswith("http")
        # The implementation that raised was called for both events and only logged.
        assert broken.CALLS == ["started", "finished"]
        logged = [r.getMessage() for r in caplog.records if "sr-events-broken" in r.getMessage()]
        assert len(logged) == 2
        assert all("the run goes on" in m for m in logged)

    async def test_a_failed_instance_is_named_in_the_finished_event(self, make_fleet, moto_aws):
        recorder = sys.modules["pcm_sr_test_plugins.events_recorder"]
        from pcm_aws_common.testing import InvocationOutcome

        fleet = await make_fleet(us_east_1=2)
        moto_aws.ssm.set_default_outcome(
            InvocationOutcome("Failed", error="disk full", exit_code=3)
        )

        execution = await fleet.start()
        done = await fleet.wait(execution["id"])
        await _until(lambda: [e.kind for e, _ in recorder.EVENTS] == ["started", "finished"])

        finished = recorder.EVENTS[-1][0]
        assert done["status"] == "failed"
        assert finished.status == "failed"
        assert finished.failed_total == 2
        assert sorted(finished.failed_instances) == sorted(fleet.all_ids())
        assert "2 of 2 instances failed" in finished.status_reason


class TestRecheckAtStart:
    @pytest.fixture
    def pcm_plugins(self, hook_plugins):
        return [
            "aws-common",
            "aws-script-runner",
            *hook_plugins("check_flips", "events_recorder"),
        ]

    async def test_a_check_that_no_longer_passes_stops_the_run_before_anything_is_sent(
        self, make_fleet, moto_aws
    ):
        flips = sys.modules["pcm_sr_test_plugins.check_flips"]
        recorder = sys.modules["pcm_sr_test_plugins.events_recorder"]
        flips.STATE["passes"] = 1  # the request passes; the start does not
        fleet = await make_fleet(us_east_1=2)
        sent_before = len(moto_aws.ssm.commands())

        execution = await fleet.start(change_reference="CHG0000009")
        done = await fleet.wait(execution["id"])
        targets = await fleet.targets(execution["id"])
        audit = await fleet.client.get(
            "/api/audit",
            params={"action": "aws-script-runner.execution.start.refused_at_start"},
            headers=await fleet.auth("admin"),
        )

        assert done["status"] == "failed"
        assert done["status_reason"] == (
            "refused when it started: sr-check-flips: change CHG0000009 was cancelled"
        )
        assert {t["status"] for t in targets} == {"NotSent"}
        assert all("was cancelled" in t["skip_reason"] for t in targets)
        assert len(moto_aws.ssm.commands()) == sent_before  # nothing reached SSM
        # The second call saw the stored request: same script, targets and change.
        assert len(flips.SEEN) == 2
        first, second = (request for request, _ in flips.SEEN)
        assert second.change_reference == first.change_reference == "CHG0000009"
        assert sorted(t.instance_id for t in second.targets) == sorted(fleet.all_ids())
        assert second.script_sha256 == first.script_sha256
        assert second.parameters == first.parameters
        assert flips.SEEN[1][1] is None  # no principal in the job
        [event] = audit.json()["events"]
        assert event["outcome"] == "failure"
        assert event["object_id"] == str(execution["id"])
        await asyncio.sleep(0.3)
        assert recorder.EVENTS == []  # a run that never started announces nothing

    async def test_a_check_that_still_passes_lets_the_run_go(self, make_fleet):
        flips = sys.modules["pcm_sr_test_plugins.check_flips"]
        flips.STATE["passes"] = 2
        fleet = await make_fleet(us_east_1=1)

        execution = await fleet.start()
        done = await fleet.wait(execution["id"])

        assert done["status"] == "succeeded"
        assert len(flips.SEEN) == 2
