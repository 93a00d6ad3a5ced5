"""A run that a pre-execution check refuses: the form shows why, and nothing starts."""

from __future__ import annotations

import pytest

# Hooks come from plugins, not from the database; nothing here runs a job.
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)

NEW = "/tools/aws/script-runner/executions/new"


@pytest.fixture
def pcm_plugins(hook_plugins):
    return ["aws-common", "aws-script-runner", *hook_plugins("check_fails")]


async def test_preview_and_run_show_the_check_that_blocks(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    fields = {
        "script_id": str(await fleet.script()),
        "instance_ids": fleet.all_ids()[0],
    }

    preview = await operator.submit(NEW, {**fields, "action": "preview"})
    run = await operator.submit(NEW, {**fields, "action": "run"})

    assert preview.status_code == 200
    assert "Running it now would be refused" in preview.text
    assert 'id="run-preview"' in preview.text
    assert run.status_code == 409
    assert "Nothing was started:" in run.text
    for page in (preview, run):
        assert "<strong>sr-check-fails</strong>: change CHG0000042 is not approved" in page.text
        assert '<span class="badge badge--failed">blocks</span>' in page.text
    assert (await fleet.get("/executions")).json()["total"] == 0
