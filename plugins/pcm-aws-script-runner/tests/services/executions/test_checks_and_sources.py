"""Executions and the script runner's hooks: a failed pre-execution check blocks the run
with its reason (audited), and targets can come from another plugin's target source."""

from __future__ import annotations

import sys

import pytest

# Hooks come from plugins, not from the database: run once.
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def pcm_plugins(hook_plugins):
    return ["aws-common", "aws-script-runner", *hook_plugins("check_fails", "source_fleet")]


async def test_a_failed_check_blocks_the_run_with_its_reason(make_fleet):
    fleet = await make_fleet(us_east_1=2)
    body = {"script_id": await fleet.script(), "targets": {"instance_ids": fleet.all_ids()}}

    preview = await fleet.post("/executions/preview", json=body)
    blocked = await fleet.post("/executions", json=body)
    allowed = await fleet.post("/executions", json={**body, "change_reference": "CHG0000001"})

    assert preview.status_code == 200
    assert preview.json()["blocked"] is True
    assert preview.json()["checks"] == [
        {"plugin": "sr-check-fails", "ok": False, "reason": "change CHG0000042 is not approved"}
    ]
    assert blocked.status_code == 409
    assert "sr-check-fails: change CHG0000042 is not approved" in blocked.json()["detail"]
    assert allowed.status_code == 201, allowed.text
    history = (await fleet.get("/executions")).json()
    assert history["total"] == 1
    audit = await fleet.client.get(
        "/api/audit",
        params={"action": "aws-script-runner.execution.start"},
        headers=await fleet.auth("admin"),
    )
    outcomes = sorted(event["outcome"] for event in audit.json()["events"])
    assert outcomes == ["failure", "success"]


async def test_targets_from_another_plugins_source(make_fleet):
    from pcm_aws_script_runner.hooktypes import ResolvedTarget

    fleet = await make_fleet(us_east_1=2, eu_west_1=1)
    source = sys.modules["pcm_sr_test_plugins.source_fleet"]
    source.TARGETS[:] = [
        ResolvedTarget(i, fleet.account_id, region)
        for region, ids in fleet.instances.items()
        for i in ids
    ]
    execution = await fleet.start(
        targets={"source": {"name": "test-group", "reference": "all"}},
        change_reference="CHG0000001",
    )
    done = await fleet.wait(execution["id"])
    unknown = await fleet.post(
        "/executions",
        json={
            "script_id": execution["script_id"],
            "targets": {"source": {"name": "test-group", "reference": "nope"}},
        },
    )

    assert done["status"] == "succeeded"
    assert done["counts"] == {"Success": 3}
    assert done["target_spec"] == {"kind": "source", "source": "test-group", "reference": "all"}
    assert unknown.status_code == 422
    [problem] = unknown.json()["detail"]
    assert problem["loc"] == ["body", "targets.source.reference"]
    assert "there is no group 'nope'" in problem["msg"]
