"""Accessibility of the script runner's pages: axe-core (``pcm_ops.testing.accessibility``)
finds no serious or critical violation, as an admin (who sees every form) on a fleet with a
script in two versions and a finished run, in one Chromium session (Debian's, through
Playwright).

The pages are visited in two groups: the script library and the history first, then the
fleet, the run form, an execution and its confirmation pages (pages being reworked
elsewhere; their violations are reported separately, so one group's do not hide the
other's).
"""

from __future__ import annotations

import pytest

from pcm_ops.testing.accessibility import axe_violations, describe_violations
from pcm_ops.testing.fixtures import CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.pcm_plugins("aws-common", "aws-script-runner"),
    pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True),
]

PAGES = "/tools/aws/script-runner"
API = "/api/tools/aws/script-runner"


async def test_no_page_has_serious_accessibility_violations(
    pcm_chromium, make_fleet, pcm_auth_headers, pcm_client, pcm_live_server
):
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    fleet = await make_fleet(us_east_1=2, eu_west_1=1)
    script_id = await fleet.script()
    headers = await pcm_auth_headers("admin")
    changed = await pcm_client.patch(
        f"{API}/scripts/{script_id}",
        json={"body": 'echo "hello again from $(hostname) to $who"\n', "comment": "again"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    execution = await fleet.start(comment="accessibility")
    execution_id = execution["id"]
    await fleet.wait(execution_id)

    library = [
        "/scripts",
        f"/scripts/{script_id}",
        f"/scripts/{script_id}/versions/1",
        f"/scripts/{script_id}/diff?from=1&to=2",
        "/scripts/new",
        f"/scripts/{script_id}/edit",
        "/executions",
    ]
    #: A rejected filter answers 422 with the page and its problems.
    expected_status = {"/executions?account_id=abc": 422}
    library.append("/executions?account_id=abc")
    reworked = [
        "/inventory",
        f"/executions/new?script_id={script_id}&instance_id={fleet.all_ids()[0]}",
        f"/executions/{execution_id}",
        f"/executions/{execution_id}/rerun",
        f"/executions/{execution_id}/cancel",
    ]
    found: dict[str, str] = {}
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(pcm_chromium), args=list(CHROMIUM_ARGS)
        )
        try:
            page = await browser.new_page(extra_http_headers=headers)
            page.set_default_timeout(10_000)
            for path in [*library, *reworked]:
                response = await page.goto(f"{pcm_live_server}{PAGES}{path}")
                assert response is not None
                assert response.status == expected_status.get(path, 200), (path, response.status)
                violations = await axe_violations(page)
                if violations:
                    found[path] = describe_violations(violations, page.url)
        finally:
            await browser.close()

    assert not found, "\n\n".join(f"{name}:\n{text}" for name, text in found.items())
