"""The history page and the execution page: what they list, who sees which button, and the
actions (cancel, rerun failed) that post with the CSRF token."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from pcm_aws_common.testing import InvocationOutcome

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

PAGES = "/tools/aws/script-runner"
API = "/api/tools/aws/script-runner"


def export_params(page: str, label: str) -> dict[str, list[str]]:
    """The query of the export link labelled ``label``."""
    for href in (html.unescape(h) for h in _hrefs(page)):
        if href.startswith(f"{API}/executions/export?") and f">{label}<" in page:
            query = parse_qs(urlsplit(href).query)
            if query["format"] == [label.split()[-1].lower()]:
                return query
    raise AssertionError(f"no {label!r} link in the page")


def _hrefs(page: str) -> list[str]:
    import re

    return re.findall(r'href="([^"]+)"', page)


async def wait_for(predicate, limit: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.05)


# -- history ----------------------------------------------------------------------------------


async def test_the_history_lists_executions_newest_first_with_links(
    make_fleet, viewer, assert_no_inline_code
):
    fleet = await make_fleet(us_east_1=2)
    first = await fleet.start(comment="first run")
    await fleet.wait(first["id"])
    second = await fleet.start(comment="second run")
    await fleet.wait(second["id"])

    page = await viewer.get(f"{PAGES}/executions")

    assert page.status_code == 200
    text = page.text
    assert f'href="{PAGES}/executions/{second["id"]}">#{second["id"]}</a>' in text
    assert text.index(f'data-execution="{second["id"]}"') < text.index(
        f'data-execution="{first["id"]}"'
    )
    assert "first run" in text
    assert "second run" in text
    assert "Success 2" in text
    assert f'href="{PAGES}/executions" aria-current="page">Executions</a>' in text
    assert "New run" not in text  # a viewer may not run scripts
    assert_no_inline_code(text)


async def test_the_history_filters_and_its_export_links_carry_the_filters(
    make_fleet, viewer, moto_aws
):
    fleet = await make_fleet(us_east_1=1)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed", exit_code=2))
    failed = await fleet.start()
    await fleet.wait(failed["id"])
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success"))
    succeeded = await fleet.start()
    await fleet.wait(succeeded["id"])
    today = datetime.now(UTC).date()

    page = await viewer.get(
        f"{PAGES}/executions",
        params={
            "status": "failed",
            "script_id": str(failed["script_id"]),
            "account_id": fleet.account_id,
            "since": today.isoformat(),
            "until": today.isoformat(),
        },
    )

    assert page.status_code == 200
    assert f'data-execution="{failed["id"]}"' in page.text
    assert f'data-execution="{succeeded["id"]}"' not in page.text
    csv = export_params(page.text, "Export CSV")
    assert csv["status"] == ["failed"]
    assert csv["script_id"] == [str(failed["script_id"])]
    assert csv["account_id"] == [fleet.account_id]
    assert csv["since"] == [f"{today.isoformat()}T00:00:00+00:00"]
    assert csv["until"] == [f"{(today + timedelta(days=1)).isoformat()}T00:00:00+00:00"]
    exported = await viewer.get(f"{API}/executions/export", params={**csv, "format": "json"})
    assert [row["id"] for row in exported.json()] == [failed["id"]]
    assert export_params(page.text, "Export JSON")["format"] == ["json"]


async def test_the_history_pages_through_many_executions(make_fleet, viewer, monkeypatch):
    from pcm_aws_script_runner.web import executions as pages_executions

    monkeypatch.setattr(pages_executions, "HISTORY_PAGE", 2)
    fleet = await make_fleet(us_east_1=1)
    ids = []
    for _ in range(3):
        ids.append((await fleet.start())["id"])
        await fleet.wait(ids[-1])

    first = await viewer.get(f"{PAGES}/executions")
    second = await viewer.get(f"{PAGES}/executions", params={"offset": "2"})

    assert [f'data-execution="{i}"' in first.text for i in ids] == [False, True, True]
    assert 'rel="next"' in first.text
    assert "1\u20132 of 3" in first.text
    assert [f'data-execution="{i}"' in second.text for i in ids] == [True, False, False]
    assert 'rel="prev"' in second.text
    assert 'rel="next"' not in second.text


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_wrong_history_filters_are_shown_next_to_their_fields(viewer):
    page = await viewer.get(
        f"{PAGES}/executions", params={"account_id": "12", "since": "yesterday"}
    )

    assert page.status_code == 422
    assert "an account id has 12 digits" in page.text
    assert "give a date as YYYY-MM-DD" in page.text
    assert 'id="ex-account" name="account_id" value="12"' in page.text
    assert 'aria-invalid="true"' in page.text


async def test_a_rejected_history_filter_lists_no_execution(make_fleet, viewer):
    fleet = await make_fleet(us_east_1=1)
    execution = await fleet.start()
    await fleet.wait(execution["id"])

    page = await viewer.get(f"{PAGES}/executions", params={"account_id": "abc"})

    assert page.status_code == 422
    assert "an account id has 12 digits" in page.text
    assert f'data-execution="{execution["id"]}"' not in page.text
    assert "Export CSV" not in page.text
    assert "Nothing is listed until the filters marked above are corrected." in page.text


# -- one execution ----------------------------------------------------------------------------


async def test_the_execution_page_shows_its_instances_results_and_output(
    make_fleet, viewer, moto_aws, assert_no_inline_code
):
    fleet = await make_fleet(us_east_1=2)
    long_one, failing = fleet.instances["us-east-1"]
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Success", output="x" * 30_000), instance_id=long_one
    )
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Failed", output="half done", error="disk full", exit_code=3),
        instance_id=failing,
    )
    execution = await fleet.start(
        parameters={"who": "ops", "token": "s3cr3t"},
        output_s3_bucket="ops-output",
        comment="patch night",
    )
    await fleet.wait(execution["id"])

    page = await viewer.get(f"{PAGES}/executions/{execution['id']}")

    assert page.status_code == 200
    text = page.text
    assert execution["script_sha256"] in text
    assert "patch night" in text
    assert "<code>who=ops</code>" in text
    assert "s3cr3t" not in text
    assert "ex-status--failed" in text
    assert f'<tr data-instance="{long_one}" data-batch="1" data-status="Success">' in text
    assert f'<tr data-instance="{failing}" data-batch="1" data-status="Failed">' in text
    assert '<td data-field="exit_code">3</td>' in text
    assert "disk full" in text
    assert "half done" in text
    assert 'class="badge ex-truncated">truncated' in text
    assert "the full output is at <code>s3://ops-output/" in text
    assert f"{API}/executions/{execution['id']}/export?format=csv" in text
    # Finished: no live script, no Cancel, and a viewer gets no buttons at all.
    assert "execution-live.js" not in text
    assert 'id="cancel-form"' not in text
    assert 'id="rerun-form"' not in text
    assert "?clone=" not in text
    assert_no_inline_code(text)


async def test_an_instances_output_is_a_row_as_wide_as_the_table_with_copy_buttons(
    make_fleet, viewer, moto_aws, assert_no_inline_code
):
    fleet = await make_fleet(us_east_1=2)
    fine, failing = fleet.instances["us-east-1"]
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Success", output="all good"), instance_id=fine
    )
    moto_aws.ssm.set_default_outcome(
        InvocationOutcome("Failed", output="half done", error="disk full", exit_code=3),
        instance_id=failing,
    )
    execution = await fleet.start()
    await fleet.wait(execution["id"])

    page = await viewer.get(f"{PAGES}/executions/{execution['id']}")

    text = page.text
    assert '<th scope="col">Output</th>' not in text  # no narrow column any more
    for instance_id in (fine, failing):
        row = text.index(f'<tr data-instance="{instance_id}"')
        output = text.index(f'<tr class="ex-output-row" data-output-for="{instance_id}">')
        assert row < output
        assert text.index('<td colspan="6">', output) < text.index("</tr>", output)
    # A failure's output is unfolded (its reason is in it); a success's stays folded.
    assert '<details class="ex-output" data-field="output" open>' in text
    assert text.count('<details class="ex-output" data-field="output"') == 2
    assert f'aria-label="Copy the standard error of {failing}" hidden>Copy</button>' in text
    assert f'aria-label="Copy the standard output of {fine}" hidden>Copy</button>' in text
    assert ">disk full</pre>" in text
    # The Copy buttons work on a finished page too (the live script is not loaded there).
    assert "execution-output.js" in text
    assert "execution-live.js" not in text
    assert_no_inline_code(text)


async def test_every_field_the_live_page_follows_is_marked_for_it(make_fleet, viewer, moto_aws):
    fleet = await make_fleet(us_east_1=1)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start()
    await fleet.wait(execution["id"], statuses={"running"})

    page = await viewer.get(f"{PAGES}/executions/{execution['id']}")

    text = page.text
    assert '<dt>Started</dt><dd id="execution-started">' in text
    assert '<dt>Finished</dt><dd id="execution-finished">' in text
    assert '<td data-field="sent_at">' in text
    assert '<td data-field="started_at">' in text
    assert '<td data-field="ended_at">' in text
    assert 'data-order="Pending Sent InProgress Delayed Success Failed' in text
    assert 'data-open-statuses="Failed Terminated TimedOut Undeliverable"' in text
    await fleet.post(f"/executions/{execution['id']}/cancel")
    await fleet.wait(execution["id"])


async def test_a_running_execution_is_live_and_an_operator_may_cancel_it(
    make_fleet, operator, viewer, moto_aws
):
    fleet = await make_fleet(us_east_1=2)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start()
    url = f"{PAGES}/executions/{execution['id']}"

    as_operator = await operator.get(url)
    as_viewer = await viewer.get(url)

    for page in (as_operator, as_viewer):
        assert "execution-live.js" in page.text
        assert f'data-events-url="{API}/executions/{execution["id"]}/events"' in page.text
        assert 'data-finished="false"' in page.text
    assert 'id="cancel-form"' in as_operator.text
    assert f'value="{operator.csrf}"' in as_operator.text
    assert 'id="cancel-form"' not in as_viewer.text
    assert "Cancel</button>" not in as_viewer.text

    refused = await operator.post(f"{url}/cancel", data={"confirm": "yes"})
    cancelled = await operator.submit(f"{url}/cancel", {"confirm": "yes"})

    assert refused.status_code == 403
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == url
    done = await fleet.wait(execution["id"])
    assert done["status"] == "cancelled"
    assert done["cancel_requested_by"] == "operator-0"
    after = await operator.get(url)
    assert 'id="cancel-form"' not in after.text
    assert "Cancel requested" in after.text


async def test_a_viewer_cannot_cancel(make_fleet, viewer, moto_aws):
    fleet = await make_fleet(us_east_1=1)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start()

    response = await viewer.submit(
        f"{PAGES}/executions/{execution['id']}/cancel", {"confirm": "yes"}
    )

    assert response.status_code == 403
    body = (await fleet.get(f"/executions/{execution['id']}")).json()
    assert body["cancel_requested_by"] is None
    await fleet.post(f"/executions/{execution['id']}/cancel")


async def test_rerun_failed_starts_a_run_on_the_failed_instances_only(
    make_fleet, operator, moto_aws
):
    fleet = await make_fleet(us_east_1=3)
    bad = fleet.instances["us-east-1"][1]
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed", exit_code=1), instance_id=bad)
    execution = await fleet.start()
    await fleet.wait(execution["id"])
    url = f"{PAGES}/executions/{execution['id']}"

    page = await operator.get(url)
    response = await operator.submit(f"{url}/rerun", {"confirm": "yes"})

    assert '<form method="get" action="' + url + '/rerun" id="rerun-form"' in page.text
    assert 'id="rerun-form" data-rerun-statuses="' in page.text
    assert "Rerun failed" in page.text
    assert response.status_code == 303
    rerun_id = int(response.headers["location"].rsplit("/", 1)[1])
    rerun = await fleet.get(f"/executions/{rerun_id}")
    assert rerun.json()["rerun_of"] == execution["id"]
    assert rerun.json()["target_spec"]["instances"] == [
        {"instance_id": bad, "account_id": fleet.account_id, "region": "us-east-1"}
    ]
    shown = await operator.get(response.headers["location"])
    assert f'Rerun of</dt><dd><a href="{url}">#{execution["id"]}</a>' in shown.text
    assert f"reruns the failed instances of #{execution['id']}" in shown.text


async def test_cancel_asks_for_confirmation_before_it_acts(make_fleet, operator, moto_aws):
    fleet = await make_fleet(us_east_1=2)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start()
    url = f"{PAGES}/executions/{execution['id']}"

    page = await operator.get(url)
    asked = await operator.get(f"{url}/cancel")
    unconfirmed = await operator.submit(f"{url}/cancel")

    assert f'<form method="get" action="{url}/cancel" id="cancel-form">' in page.text
    assert asked.status_code == 200
    assert f"Cancel execution #{execution['id']}?" in asked.text
    assert "on 2 instances" in asked.text
    assert f'<form method="post" action="{url}/cancel"' in asked.text
    assert '<input type="hidden" name="confirm" value="yes">' in asked.text
    assert f'value="{operator.csrf}"' in asked.text
    assert f'href="{url}">Keep it running</a>' in asked.text
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["location"] == f"{url}/cancel"
    body = (await fleet.get(f"/executions/{execution['id']}")).json()
    assert body["cancel_requested_by"] is None

    confirmed = await operator.submit(f"{url}/cancel", {"confirm": "yes"})
    assert confirmed.headers["location"] == url
    assert (await fleet.wait(execution["id"]))["status"] == "cancelled"
    ended = await operator.get(f"{url}/cancel")
    assert ended.status_code == 303
    assert ended.headers["location"] == url


async def test_a_cancel_is_shown_by_the_page_state_not_by_a_flash_that_outlives_it(
    make_fleet, operator, moto_aws
):
    fleet = await make_fleet(us_east_1=1)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    execution = await fleet.start()
    url = f"{PAGES}/executions/{execution['id']}"

    cancelled = await operator.submit(f"{url}/cancel", {"confirm": "yes"})
    shown = await operator.get(cancelled.headers["location"])

    # "Cancelling" would still be on the page when the run had ended (the live page keeps
    # it): the status badge, the disabled button and "Cancel requested" say it instead.
    assert f"Cancelling execution #{execution['id']}" not in shown.text
    assert "Cancel requested" in shown.text
    await fleet.wait(execution["id"])


async def test_rerun_asks_for_confirmation_naming_the_instances(make_fleet, operator, moto_aws):
    fleet = await make_fleet(us_east_1=3)
    bad = fleet.instances["us-east-1"][2]
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed", exit_code=1), instance_id=bad)
    execution = await fleet.start()
    await fleet.wait(execution["id"])
    url = f"{PAGES}/executions/{execution['id']}"

    asked = await operator.get(f"{url}/rerun")
    unconfirmed = await operator.submit(f"{url}/rerun")

    assert asked.status_code == 200
    assert f"Rerun the failed instances of execution #{execution['id']}?" in asked.text
    assert bad in asked.text
    assert "Rerun on 1 instance</button>" in asked.text
    assert '<input type="hidden" name="confirm" value="yes">' in asked.text
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["location"] == f"{url}/rerun"
    assert (await fleet.get("/executions")).json()["total"] == 1


async def test_cancelled_is_spelled_one_way(make_fleet, viewer, moto_aws):
    fleet = await make_fleet(us_east_1=1)
    # SSM's StatusDetails of a cancelled invocation is "Canceled".
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Cancelled"))
    execution = await fleet.start()
    await fleet.wait(execution["id"])

    page = await viewer.get(f"{PAGES}/executions/{execution['id']}")

    assert 'data-status="Cancelled"' in page.text
    assert 'data-field="status_details"></span>' in page.text
    assert ">Canceled<" not in page.text
    assert 'data-details-spellings="Canceled=Cancelled"' in page.text


async def test_a_successful_run_offers_no_rerun(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    execution = await fleet.start()
    await fleet.wait(execution["id"])

    page = await operator.get(f"{PAGES}/executions/{execution['id']}")

    assert 'id="rerun-form" data-rerun-statuses="' in page.text
    assert (
        'data-rerun-statuses="Cancelled Failed NotSent Terminated TimedOut Undeliverable" hidden>'
        in page.text
    )
    assert f'href="{PAGES}/executions/new?clone={execution["id"]}"' in page.text


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_an_unknown_execution_is_404(viewer, pcm_migrated_database):
    response = await viewer.get(f"{PAGES}/executions/999999")

    assert response.status_code == 404


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_the_execution_page_pages_batches_and_instances_by_key(
    make_fleet, viewer, monkeypatch
):
    """Neither every batch nor an OFFSET over the instances: each list is a page that
    starts after the last row of the one before (``batches_after``, ``after``)."""
    from pcm_aws_script_runner.web import executions as pages_executions

    monkeypatch.setattr(pages_executions, "TARGETS_PAGE", 2)
    monkeypatch.setattr(pages_executions, "BATCHES_PAGE", 2)
    fleet = await make_fleet(us_east_1=3, us_west_2=2)
    execution = await fleet.start(max_concurrency=1)  # 5 batches of 1
    await fleet.wait(execution["id"])
    url = f"{PAGES}/executions/{execution['id']}"

    async def every_page(item: str, next_label: str, first_label: str) -> list[str]:
        """The ``item`` matches of every page, following the ``next_label`` links (each
        later page links back to the first with ``first_label``)."""
        found: list[str] = []
        page = await viewer.get(url)
        while True:
            assert page.status_code == 200, page.text
            found += re.findall(item, page.text)
            more = re.search(rf'<a href="([^"]+)" rel="next">{next_label}</a>', page.text)
            if more is None:
                return found
            page = await viewer.get(html.unescape(more.group(1)))
            assert f'rel="first">{first_label}' in page.text

    instances = await every_page(r'data-instance="([^"]+)"', "Next", "First page")
    assert instances == sorted(fleet.instances["us-east-1"]) + sorted(fleet.instances["us-west-2"])

    batches = await every_page(r'<tr data-batch="(\d+)">', "Next batches", "First batches")
    assert batches == ["1", "2", "3", "4", "5"]

    wrong = await viewer.get(url, params={"after": "not-a-key"})
    assert wrong.status_code == 422
    assert "after" in wrong.text
