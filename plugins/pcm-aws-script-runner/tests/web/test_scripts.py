"""The web pages under ``/tools/aws/script-runner``: who sees what, the editor's form with
CSRF, and the strict Content-Security-Policy (no inline scripts, styles or handlers)."""

from __future__ import annotations

import re

import httpx
import pytest

PAGES = "/tools/aws/script-runner"
API = "/api/tools/aws/script-runner"

INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    re.compile(r"<style\b", re.IGNORECASE),
    re.compile(r"\sstyle=", re.IGNORECASE),
    re.compile(r"\son[a-z]+=", re.IGNORECASE),
    re.compile(r"javascript:", re.IGNORECASE),
]


#: Rendering does not depend on the database; the pages that query or write run on both.
sqlite_only = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


def assert_no_inline_code(html: str) -> None:
    found = [pattern.pattern for pattern in INLINE if pattern.search(html)]
    assert found == [], f"inline code the CSP would block: {found}"


@pytest.fixture
async def viewer(pcm_auth_headers, pcm_running_app):
    headers = await pcm_auth_headers("viewer")
    transport = httpx.ASGITransport(app=pcm_running_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        yield client


@pytest.fixture
async def browser(pcm_migrated_database, pcm_running_app):
    """An admin logged in through the browser flow: a session cookie and its CSRF token."""
    from pcm_ops.security.users import create_user

    async with pcm_migrated_database.session() as session:
        await create_user(session, "ada", "a long enough password", "admin")
    transport = httpx.ASGITransport(app=pcm_running_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/api/auth/login", json={"username": "ada", "password": "a long enough password"}
        )
        assert response.status_code == 200, response.text
        client.csrf = response.json()["csrf_token"]
        yield client


def editor_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "name": "disk-usage",
        "description": "Show disk usage",
        "language": "shell",
        "body": "df -h\r\n",
        "tags": "Linux, disks",
        "comment": "from the browser",
        "parameters-0-name": "path",
        "parameters-0-type": "string",
        "parameters-0-default": "/",
        "parameters-0-required": "on",
        "parameters-3-name": "human",
        "parameters-3-type": "boolean",
        "parameters-3-default": "true",
    }
    form.update(overrides)
    return form


# -- reading ----------------------------------------------------------------------------------


@sqlite_only
async def test_the_tool_root_leads_to_the_script_list(viewer):
    response = await viewer.get(f"{PAGES}/")

    assert response.status_code == 303
    assert response.headers["location"] == f"{PAGES}/scripts"


@sqlite_only
async def test_a_viewer_sees_the_script_list_with_its_nav_entry(viewer, create_script):
    await create_script(name="restart-nginx", tags=["web"])

    page = await viewer.get(f"{PAGES}/scripts")

    assert page.status_code == 200
    assert "restart-nginx" in page.text
    assert f'href="{PAGES}/scripts" aria-current="page">Scripts</a>' in page.text
    assert "New script" not in page.text
    assert_no_inline_code(page.text)


async def test_the_list_filters_by_search_and_tag(viewer, create_script):
    await create_script(name="restart-nginx", tags=["web"])
    await create_script(name="rotate-logs", description="logrotate", tags=["logs"])

    searched = await viewer.get(f"{PAGES}/scripts", params={"q": "logrotate"})
    tagged = await viewer.get(f"{PAGES}/scripts", params={"tag": "web"})

    assert "rotate-logs" in searched.text
    assert "restart-nginx" not in searched.text
    assert "restart-nginx" in tagged.text
    assert "rotate-logs" not in tagged.text


@sqlite_only
async def test_the_list_searches_as_you_type_with_htmx(viewer):
    page = await viewer.get(f"{PAGES}/scripts")

    assert 'hx-get="/tools/aws/script-runner/scripts"' in page.text
    assert 'hx-select="#script-results"' in page.text
    assert 'id="script-results"' in page.text


@sqlite_only
async def test_a_viewer_sees_a_script_with_its_version_history(
    viewer, pcm_admin_client, create_script
):
    created = await create_script()
    await pcm_admin_client.patch(
        f"{API}/scripts/{created['id']}", json={"body": "true\n", "comment": "simplify"}
    )

    page = await viewer.get(f"{PAGES}/scripts/{created['id']}")

    assert page.status_code == 200
    assert "Version history" in page.text
    assert "simplify" in page.text
    assert f"{PAGES}/scripts/{created['id']}/diff?from=1&amp;to=2" in page.text
    assert "/edit" not in page.text
    assert "executions/new" not in page.text
    assert_no_inline_code(page.text)


@sqlite_only
async def test_an_operator_runs_a_script_from_its_page(
    pcm_auth_headers, pcm_running_app, create_script
):
    created = await create_script()
    headers = await pcm_auth_headers("operator")
    transport = httpx.ASGITransport(app=pcm_running_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as operator:
        page = await operator.get(f"{PAGES}/scripts/{created['id']}")
        assert page.status_code == 200
        run = f"{PAGES}/executions/new?script_id={created['id']}"
        assert f'href="{run}"' in page.text
        assert "/edit" not in page.text  # managing scripts is the admin's
        form = await operator.get(run)
        assert form.status_code == 200, form.text
        assert re.search(rf'<option value="{created["id"]}"[^>]*selected', form.text)


@sqlite_only
async def test_a_viewer_sees_an_earlier_version_and_the_diff(
    viewer, pcm_admin_client, create_script
):
    created = await create_script()
    await pcm_admin_client.patch(f"{API}/scripts/{created['id']}", json={"body": "true\n"})

    version = await viewer.get(f"{PAGES}/scripts/{created['id']}/versions/1")
    diff = await viewer.get(f"{PAGES}/scripts/{created['id']}/diff")

    assert version.status_code == 200
    assert "This is an earlier version" in version.text
    assert "Run this version" not in version.text  # running is the operator's
    assert diff.status_code == 200
    assert 'sr-diff__line--added">+true</span>' in diff.text
    assert 'sr-diff__line--removed">-systemctl restart nginx</span>' in diff.text
    assert_no_inline_code(diff.text)


@sqlite_only
async def test_a_version_page_offers_to_run_that_version(
    pcm_auth_headers, pcm_running_app, pcm_admin_client, create_script
):
    created = await create_script()
    await pcm_admin_client.patch(f"{API}/scripts/{created['id']}", json={"body": "true\n"})
    headers = await pcm_auth_headers("operator")
    transport = httpx.ASGITransport(app=pcm_running_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as operator:
        page = await operator.get(f"{PAGES}/scripts/{created['id']}/versions/1")
        run = f"{PAGES}/executions/new?script_id={created['id']}&amp;version=1"
        assert f'href="{run}" id="run-version">Run this version</a>' in page.text
        form = await operator.get(run.replace("&amp;", "&"))
        assert form.status_code == 200, form.text
        assert re.search(r'<option value="1" selected>v1 ', form.text)


@sqlite_only
async def test_an_unknown_script_page_is_404(viewer, pcm_migrated_database):
    page = await viewer.get(f"{PAGES}/scripts/42", headers={"Accept": "text/html"})

    assert page.status_code == 404


@sqlite_only
async def test_the_static_files_are_served(viewer):
    css = await viewer.get(f"{PAGES}/static/script-runner.css")
    js = await viewer.get(f"{PAGES}/static/editor.js")

    assert (css.status_code, js.status_code) == (200, 200)


# -- the editor -------------------------------------------------------------------------------


@sqlite_only
async def test_a_viewer_cannot_open_the_editor(viewer, create_script):
    created = await create_script()

    new = await viewer.get(f"{PAGES}/scripts/new")
    edit = await viewer.get(f"{PAGES}/scripts/{created['id']}/edit")

    assert (new.status_code, edit.status_code) == (403, 403)


@sqlite_only
async def test_an_admin_gets_the_editor_with_a_parameter_table(browser, create_script):
    created = await create_script()

    page = await browser.get(f"{PAGES}/scripts/{created['id']}/edit")

    assert page.status_code == 200
    assert f'name="csrf_token" value="{browser.csrf}"' in page.text
    assert 'class="form__input sr-code" id="body" name="body"' in page.text
    assert 'name="parameters-2-name" value="api_token"' in page.text
    assert '<template id="parameter-row-template">' in page.text
    assert f'<script src="{PAGES}/static/editor.js" defer>' in page.text
    assert "Saving writes version 2" in page.text
    assert_no_inline_code(page.text)


@sqlite_only
async def test_the_editor_says_how_parameters_reach_the_script(browser):
    page = await browser.get(f"{PAGES}/scripts/new")

    assert page.status_code == 200
    assert "as an environment variable of its name" in page.text
    assert "<code>$service</code> in shell" in page.text
    assert "<code>$env:service</code> in PowerShell" in page.text


async def test_an_admin_creates_a_script_through_the_form(browser, pcm_admin_client):
    response = await browser.post(f"{PAGES}/scripts/new", data=editor_form(browser.csrf))

    assert response.status_code == 303, response.text
    [script] = (await pcm_admin_client.get(f"{API}/scripts")).json()
    assert response.headers["location"] == f"{PAGES}/scripts/{script['id']}"
    created = (await pcm_admin_client.get(f"{API}/scripts/{script['id']}")).json()
    assert created["body"] == "df -h\n"
    assert created["tags"] == ["disks", "linux"]
    assert created["created_by"] == "ada"
    assert [(p["name"], p["default"], p["required"]) for p in created["parameters"]] == [
        ("path", "/", True),
        ("human", True, False),
    ]
    detail = await browser.get(response.headers["location"])
    assert "saved as version 1" in detail.text


@sqlite_only
async def test_an_admin_saves_a_new_version_through_the_form(browser, create_script):
    created = await create_script()
    form = editor_form(browser.csrf, name=created["name"], body="true\n")

    response = await browser.post(f"{PAGES}/scripts/{created['id']}/edit", data=form)
    page = await browser.get(f"{PAGES}/scripts/{created['id']}")

    assert response.status_code == 303
    assert "saved as version 2" in page.text


@sqlite_only
async def test_a_form_without_the_csrf_token_is_refused(browser):
    form = editor_form(browser.csrf)
    del form["csrf_token"]

    response = await browser.post(f"{PAGES}/scripts/new", data=form)

    assert response.status_code == 403


@sqlite_only
async def test_form_problems_are_shown_next_to_the_fields_keeping_what_was_typed(browser):
    form = editor_form(browser.csrf, name="bad;name", **{"parameters-3-default": "maybe"})

    response = await browser.post(f"{PAGES}/scripts/new", data=form)

    assert response.status_code == 422
    assert "bad;name" in response.text
    assert "is not a valid script name" in response.text
    assert "parameter &#39;human&#39; (row 2), default" in response.text
    assert "the default must be true or false, not text" in response.text
    assert 'name="parameters-1-default" aria-invalid="true" value="maybe"' in response.text


@sqlite_only
async def test_a_duplicate_name_in_the_form_is_a_conflict(browser, create_script):
    await create_script(name="disk-usage")

    response = await browser.post(f"{PAGES}/scripts/new", data=editor_form(browser.csrf))

    assert response.status_code == 409
    assert "already exists" in response.text


@sqlite_only
async def test_an_admin_archives_and_unarchives_from_the_detail_page(
    browser, create_script, pcm_admin_client
):
    created = await create_script()
    url = f"{PAGES}/scripts/{created['id']}"

    archived = await browser.post(f"{url}/archive", data={"csrf_token": browser.csrf})
    state = (await pcm_admin_client.get(f"{API}/scripts/{created['id']}")).json()["archived"]
    page = await browser.get(url)
    restored = await browser.post(f"{url}/unarchive", data={"csrf_token": browser.csrf})

    assert (archived.status_code, restored.status_code) == (303, 303)
    assert state is True
    assert "cannot be run or edited" in page.text
    assert f'action="{url}/unarchive"' in page.text
