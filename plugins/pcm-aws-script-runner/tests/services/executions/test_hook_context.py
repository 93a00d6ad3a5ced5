"""Other plugins' checks and target sources get their ``context`` (their own settings and a
database session) in the API, on pages' behalf and through the shipped test fixtures."""

from __future__ import annotations

import pytest

from pcm_aws_script_runner.testing import execution_request

pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def pcm_plugins(hook_plugins):
    return ["aws-common", "aws-script-runner", *hook_plugins("check_context")]


@pytest.fixture
def pcm_settings(pcm_settings, monkeypatch):
    monkeypatch.setenv("PCM_SR_CHECK_CONTEXT__MAX_TARGETS", "2")
    return pcm_settings


async def test_a_check_reads_its_settings_and_the_database_through_its_context(make_fleet):
    fleet = await make_fleet(us_east_1=3)
    body = {"script_id": await fleet.script(), "targets": {"instance_ids": fleet.all_ids()}}

    preview = await fleet.post("/executions/preview", json=body)
    few = await fleet.post(
        "/executions/preview",
        json={**body, "targets": {"instance_ids": fleet.all_ids()[:2]}},
    )

    assert preview.status_code == 200, preview.text
    assert preview.json()["checks"] == [
        {
            "plugin": "sr-check-context",
            "ok": False,
            "reason": "sr-check-context: 3 targets > 2 (1 scripts in the library)",
        }
    ]
    assert few.json()["checks"] == [{"plugin": "sr-check-context", "ok": True, "reason": ""}]


async def test_a_target_source_resolves_through_the_database_of_its_context(make_fleet):
    fleet = await make_fleet(us_east_1=3)

    resolved = await fleet.post(
        "/target-sources/test-account/resolve", json={"reference": fleet.account_id}
    )
    unknown = await fleet.post(
        "/target-sources/test-account/resolve", json={"reference": "111111111111"}
    )

    assert resolved.status_code == 200, resolved.text
    assert [t["instance_id"] for t in resolved.json()] == sorted(fleet.instances["us-east-1"])[:2]
    assert unknown.status_code == 422


async def test_the_shipped_fixture_gives_checks_their_context(aws_sr_run_checks, aws_sr_fleet):
    await aws_sr_fleet(us_east_1=1)

    report = await aws_sr_run_checks(execution_request())

    assert report.passed
