"""The Fleet page, without a browser: rows, sync errors shown prominently, filters from the
query string, the links to the run form, "Sync now" and saved filters with CSRF."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

PAGE = "/tools/aws/script-runner/inventory"
A = "111100000001"
sqlite_only = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=", re.IGNORECASE)


async def _seed(database: Any) -> None:
    from pcm_aws_script_runner.services.inventory.sync_writes import (
        InstanceRecord,
        mark_sync_error,
        save_account_region,
    )

    async with database.session() as session:
        await save_account_region(
            session,
            A,
            "us-east-1",
            [
                InstanceRecord(
                    "i-0aaa", name="web-1", state="running", platform="Linux", tags={"env": "prod"}
                ),
                InstanceRecord("i-0bbb", name="db-1", state="stopped", platform="Linux"),
            ],
        )
        await mark_sync_error(
            session,
            A,
            "ap-south-1",
            "DescribeInstances: UnauthorizedOperation: not allowed",
            job_id="j",
        )


@pytest.fixture
async def admin(
    pcm_migrated_database: Any, pcm_admin_client: httpx.AsyncClient
) -> httpx.AsyncClient:
    await _seed(pcm_migrated_database)
    return pcm_admin_client


@pytest.fixture
async def browser(pcm_migrated_database: Any, pcm_running_app: Any) -> Any:
    """An admin logged in through the browser flow: a session cookie and its CSRF token."""
    from pcm_ops.security.users import create_user

    await _seed(pcm_migrated_database)
    async with pcm_migrated_database.session() as session:
        await create_user(session, "ada", "a long enough password", "admin")
    transport = httpx.ASGITransport(app=pcm_running_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/api/auth/login", json={"username": "ada", "password": "a long enough password"}
        )
        assert response.status_code == 200, response.text
        client.csrf = response.json()["csrf_token"]  # type: ignore[attr-defined]
        yield client


async def test_the_page_lists_instances_and_shows_sync_errors(admin: httpx.AsyncClient) -> None:
    response = await admin.get(PAGE)

    html = response.text
    assert response.status_code == 200
    assert html.count('class="sr-instance"') == 2
    assert "web-1" in html
    assert "i-0bbb" in html
    assert "1 account-region failed to sync" in html
    assert "UnauthorizedOperation: not allowed" in html
    assert "ap-south-1" in html
    assert "Last synced" in html
    assert INLINE.search(html) is None


@sqlite_only
async def test_filters_come_from_the_query_string_and_lead_to_the_run_form(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.get(PAGE, params={"state": "running", "tag": "env=prod"})

    html = response.text
    assert html.count('class="sr-instance"') == 1
    assert 'name="instance_id" value="i-0aaa"' in html
    assert 'action="/tools/aws/script-runner/executions/new"' in html
    [link] = re.findall(r'href="([^"]*)" id="run-matching"', html)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query == {"f_state": ["running"], "f_tag": ["env=prod"]}


@sqlite_only
async def test_a_bad_filter_is_explained_on_the_page(admin: httpx.AsyncClient) -> None:
    response = await admin.get(PAGE, params={"account_id": "42"})

    assert response.status_code == 422
    assert "The filter is not valid" in response.text
    assert "is not an AWS account id" in response.text


@sqlite_only
async def test_viewers_see_no_sync_button(admin: httpx.AsyncClient, pcm_auth_headers: Any) -> None:
    viewer = await pcm_auth_headers("viewer")

    as_viewer = await admin.get(PAGE, headers=viewer)
    as_admin = await admin.get(PAGE)

    assert as_viewer.status_code == 200
    assert "Sync now" not in as_viewer.text
    assert "Sync now" in as_admin.text


async def test_sync_now_queues_a_job_with_the_csrf_token(browser: Any) -> None:
    refused = await browser.post(f"{PAGE}/sync", data={})
    queued = await browser.post(f"{PAGE}/sync", data={"csrf_token": browser.csrf})
    page = await browser.get(PAGE)

    assert refused.status_code == 403
    assert queued.status_code == 303
    assert "Sync of every account and region started" in page.text


@sqlite_only
async def test_the_current_filter_can_be_saved_and_applied(browser: Any) -> None:
    saved = await browser.post(
        f"{PAGE}/filters",
        data={
            "csrf_token": browser.csrf,
            "name": "prod web",
            "state": "running",
            "tag": "env=prod",
        },
    )
    page = await browser.get(PAGE)
    [filter_id] = re.findall(rf'href="{PAGE}/filters/(\d+)"', page.text)
    applied = await browser.get(f"{PAGE}/filters/{filter_id}")

    assert saved.status_code == 303
    assert (
        "Filter &#39;prod web&#39; saved." in page.text or "Filter 'prod web' saved." in page.text
    )
    assert f"/executions/new?saved_filter={filter_id}" in page.text
    assert applied.status_code == 303
    assert parse_qs(urlsplit(applied.headers["location"]).query) == {
        "state": ["running"],
        "tag": ["env=prod"],
    }


# -- issue 14, item 10: the filters say what they read, and what is wrong next to it -------


def tag_boxes(page: str) -> list[str]:
    return re.findall(r'<input class="form__input" type="text" name="tag" value="([^"]*)"', page)


@sqlite_only
async def test_the_tag_filters_always_offer_an_empty_box(admin: httpx.AsyncClient) -> None:
    unfiltered = await admin.get(PAGE)
    filtered = await admin.get(PAGE, params={"tag": "env=prod"})

    assert tag_boxes(unfiltered.text) == [""]
    assert tag_boxes(filtered.text) == ["env=prod", ""]
    assert "One tag per box" in unfiltered.text


@sqlite_only
async def test_comma_separated_tags_in_one_box_are_read_as_several(
    admin: httpx.AsyncClient, pcm_migrated_database: Any
) -> None:
    from pcm_aws_script_runner.services.inventory.sync_writes import (
        InstanceRecord,
        save_account_region,
    )

    async with pcm_migrated_database.session() as session:
        await save_account_region(
            session,
            A,
            "eu-west-1",
            [
                InstanceRecord("i-0ccc", name="worker-1", tags={"Team": "data", "Role": "worker"}),
                InstanceRecord("i-0ddd", name="api-1", tags={"Team": "data", "Role": "api"}),
            ],
        )

    page = await admin.get(PAGE, params={"tag": "Team=data, Role=worker"})

    assert page.status_code == 200
    assert page.text.count('class="sr-instance"') == 1
    assert 'name="instance_id" value="i-0ccc"' in page.text
    assert tag_boxes(page.text) == ["Team=data", "Role=worker", ""]
    assert "Read as separate tags: “Team=data, Role=worker”." in page.text
    [link] = re.findall(r'href="([^"]*)" id="run-matching"', page.text)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query == {"f_tag": ["Team=data", "Role=worker"]}


@sqlite_only
async def test_a_bad_filter_is_shown_next_to_its_field_keeping_what_was_typed(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.get(
        PAGE, params={"region": "nowhere", "tag": "k" * 129, "q": "web", "limit": "lots"}
    )

    text = response.text
    assert response.status_code == 422
    assert 'id="error-region-1">&#39;nowhere&#39; is not an AWS region name' in text
    assert 'aria-invalid="true" aria-describedby="error-region-1"' in text
    assert (
        'id="error-tag-1">a tag filter is &#39;key=value&#39; or &#39;key&#39;; '
        "the key is too long: at most 128 characters</p>"
    ) in text
    assert 'id="error-limit-1">“lots” is not a whole number from 1 to 500</p>' in text
    assert '<li><a href="#fleet-region">region</a>' in text
    assert '<li><a href="#fleet-tags">tag</a>' in text
    assert '<li><a href="#fleet-limit">limit</a>' in text
    assert "String should" not in text
    assert 'value="web"' in text
    assert tag_boxes(text) == ["k" * 129, ""]
    assert 'class="sr-instance"' not in text


@sqlite_only
async def test_the_selection_form_says_how_many_are_selected_and_tells_the_run_form(
    admin: httpx.AsyncClient,
) -> None:
    page = await admin.get(PAGE)

    text = page.text
    form = text[text.index('<form id="run-selected"') :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="fleet_selection" value="1">' in form
    assert 'id="selected-count" aria-live="polite"' in form
    assert 'aria-describedby="selected-count"' in form


@sqlite_only
async def test_the_region_list_shows_every_region(admin: httpx.AsyncClient) -> None:
    page = await admin.get(PAGE)

    [size] = re.findall(r'id="fleet-region" name="region" multiple size="(\d+)"', page.text)
    regions = re.findall(r'<option value="([a-z]+-[a-z-]+-\d)"', page.text)
    assert int(size) == len(set(regions)) >= 2
