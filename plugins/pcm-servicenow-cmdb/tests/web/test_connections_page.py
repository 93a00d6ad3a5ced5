"""The connections page as a browser uses it: the list with each connection's status for
every reader, and for admins the forms that add, change, test and remove one (checked with
a real call against the fake ServiceNow, every problem shown next to its field, never a
secret on any page)."""

from __future__ import annotations

import httpx
import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

API = "/api/tools/servicenow/cmdb/connections"
PAGE = "/tools/servicenow/cmdb/connections"
HTML = {"Accept": "text/html"}
PASSWORD = "a long enough password"


@pytest.fixture
async def browser(pcm_migrated_database, pcm_running_app):
    """A factory: ``await browser("admin")`` is a logged-in browser session of a new user
    with that role, carrying its CSRF token in ``.csrf``."""
    from pcm_ops.security.users import create_user

    clients = []

    async def login(role: str) -> httpx.AsyncClient:
        username = f"{role}-user"
        async with pcm_migrated_database.session() as session:
            await create_user(session, username, PASSWORD, role)
            await session.commit()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=pcm_running_app),
            base_url="http://testserver",
            headers=HTML,
        )
        clients.append(client)
        answer = await client.post(
            "/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        client.csrf = answer.json()["csrf_token"]  # type: ignore[attr-defined]
        return client

    yield login
    for client in clients:
        await client.aclose()


def basic(servicenow, **fields: str) -> dict[str, str]:
    return {
        "name": "acme",
        "base_url": servicenow.url,
        "auth_kind": "basic",
        "username": DEFAULT_USERNAME,
        "password": DEFAULT_PASSWORD,
        "timeout_seconds": "10",
        **fields,
    }


async def test_an_admin_adds_a_connection_checked_and_sees_its_status(browser, servicenow):
    admin = await browser("admin")

    added = await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})
    page = await admin.get(added.headers["location"])

    assert added.status_code == 303
    assert added.headers["location"] == PAGE
    assert "Connection &#39;acme&#39; added" in page.text
    assert "<td>acme</td>" in page.text
    assert ">ok</span>" in page.text
    assert DEFAULT_PASSWORD not in page.text


async def test_every_problem_is_shown_next_to_its_field_at_once(browser, servicenow):
    admin = await browser("admin")

    answer = await admin.post(
        PAGE,
        data={
            **basic(servicenow, base_url="ftp://x", password="", timeout_seconds="soon"),
            "csrf_token": admin.csrf,
        },
    )
    refused = await admin.post(
        PAGE, data={**basic(servicenow, password="wrong"), "csrf_token": admin.csrf}
    )
    listed = await admin.get(API)

    assert answer.status_code == 422
    assert 'id="timeout_seconds-problem"' in answer.text
    assert "valid number" in answer.text
    assert 'value="ftp://x"' in answer.text  # the form keeps what was typed
    assert refused.status_code == 422
    assert 'id="password-problem"' in refused.text
    assert "ServiceNow refused these credentials" in refused.text
    assert 'value="wrong"' not in refused.text  # a secret is never sent back, even a wrong one
    assert listed.json() == []


async def test_the_services_checks_are_field_problems(browser, servicenow):
    admin = await browser("admin")

    answer = await admin.post(
        PAGE, data={**basic(servicenow, base_url="ftp://x", password=""), "csrf_token": admin.csrf}
    )
    servicenow.outage()
    down = await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})

    assert answer.status_code == 422
    assert 'id="base_url-problem"' in answer.text
    assert 'id="password-problem"' in answer.text
    assert "is needed for basic authentication" in answer.text
    assert down.status_code == 502
    assert 'id="base_url-problem"' in down.text
    assert "ServiceNow could not be checked" in down.text


async def test_a_duplicate_name_is_a_problem_of_the_name(browser, servicenow):
    admin = await browser("admin")
    await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})

    again = await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})

    assert again.status_code == 409
    assert 'id="name-problem"' in again.text


async def test_changing_a_connection_keeps_a_blank_secret(browser, servicenow):
    admin = await browser("admin")
    await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})
    [row] = (await admin.get(API)).json()

    form = await admin.get(f"{PAGE}/{row['id']}/edit")
    saved = await admin.post(
        f"{PAGE}/{row['id']}/edit",
        data={**basic(servicenow, password="", timeout_seconds="7"), "csrf_token": admin.csrf},
    )
    tested = await admin.post(f"{PAGE}/{row['id']}/test", data={"csrf_token": admin.csrf})
    page = await admin.get(PAGE)
    [after] = (await admin.get(API)).json()

    assert form.status_code == 200
    assert "Stored; leave blank to keep it." in form.text
    assert DEFAULT_PASSWORD not in form.text
    assert saved.status_code == 303, saved.text
    assert tested.status_code == 303
    assert "works" in page.text
    assert after["timeout_seconds"] == 7
    assert after["has_password"] is True
    assert after["status"] == "ok"


async def test_a_refused_change_keeps_nothing_of_it(browser, servicenow):
    admin = await browser("admin")
    await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})
    [row] = (await admin.get(API)).json()

    refused = await admin.post(
        f"{PAGE}/{row['id']}/edit",
        data={
            **basic(servicenow, password="wrong", timeout_seconds="7"),
            "csrf_token": admin.csrf,
        },
    )
    [after] = (await admin.get(API)).json()

    assert refused.status_code == 422
    assert 'id="password-problem"' in refused.text
    assert after["timeout_seconds"] == 10
    assert after["status"] == "ok"


async def test_a_failed_test_is_shown_and_recorded(browser, servicenow):
    admin = await browser("admin")
    await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})
    [row] = (await admin.get(API)).json()
    servicenow.outage()

    tested = await admin.post(f"{PAGE}/{row['id']}/test", data={"csrf_token": admin.csrf})
    page = await admin.get(PAGE)

    assert tested.status_code == 303
    assert "failed its check" in page.text
    assert ">error</span>" in page.text


async def test_an_admin_removes_a_connection(browser, servicenow):
    admin = await browser("admin")
    await admin.post(PAGE, data={**basic(servicenow), "csrf_token": admin.csrf})
    [row] = (await admin.get(API)).json()

    removed = await admin.post(f"{PAGE}/{row['id']}/delete", data={"csrf_token": admin.csrf})
    page = await admin.get(PAGE)

    assert removed.status_code == 303
    assert "Connection &#39;acme&#39; removed." in page.text
    assert (await admin.get(API)).json() == []


async def test_a_form_without_the_csrf_token_is_refused(browser, servicenow):
    admin = await browser("admin")

    answer = await admin.post(PAGE, data=basic(servicenow))

    assert answer.status_code == 403
    assert (await admin.get(API)).json() == []


async def test_viewers_see_the_list_without_forms_and_cannot_change_it(
    browser, servicenow, connected
):
    viewer = await browser("viewer")
    operator = await browser("operator")
    [row] = (await viewer.get(API)).json()

    page = await viewer.get(PAGE)
    added = await viewer.post(
        PAGE, data={**basic(servicenow, name="other"), "csrf_token": viewer.csrf}
    )
    removed = await operator.post(f"{PAGE}/{row['id']}/delete", data={"csrf_token": operator.csrf})
    edit = await viewer.get(f"{PAGE}/{row['id']}/edit")
    tested = await viewer.post(f"{PAGE}/{row['id']}/test", data={"csrf_token": viewer.csrf})

    assert page.status_code == 200
    assert "<td>acme</td>" in page.text
    assert "Add a connection" not in page.text
    assert "/delete" not in page.text
    assert DEFAULT_PASSWORD not in page.text
    assert [added.status_code, removed.status_code, edit.status_code, tested.status_code] == [
        403,
        403,
        403,
        403,
    ]
    assert [c["name"] for c in (await viewer.get(API)).json()] == ["acme"]


async def test_unauthenticated_browsers_are_refused(pcm_client, connected):
    page = await pcm_client.get(PAGE, headers=HTML)

    assert page.status_code in (303, 401), page.status_code
    assert "acme" not in page.text


async def test_a_client_certificate_is_added_kept_when_blank_and_removed(
    browser, servicenow, https_fake, pki
):
    admin = await browser("admin")
    cert, key = pki["client"][0], pki["client"][1]
    secret = key.splitlines()[1]

    added = await admin.post(
        PAGE,
        data={
            **basic(servicenow, name="secure", base_url=https_fake.url),
            "ca_bundle": pki["ca"][0],
            "client_cert": cert,
            "client_key": key,
            "csrf_token": admin.csrf,
        },
    )
    [row] = (await admin.get(API)).json()
    form = await admin.get(f"{PAGE}/{row['id']}/edit")
    kept = await admin.post(
        f"{PAGE}/{row['id']}/edit",
        data={**basic(servicenow, base_url=https_fake.url, password=""), "csrf_token": admin.csrf},
    )
    [after_keep] = (await admin.get(API)).json()
    page = await admin.get(PAGE)

    assert added.status_code == 303, added.text
    assert (row["status"], row["has_client_cert"], row["has_client_key"]) == ("ok", True, True)
    assert 'name="client_key"' in form.text
    assert "A client certificate is stored; leave blank to keep it." in form.text
    assert 'name="remove_client_cert"' in form.text
    assert kept.status_code == 303, kept.text
    assert (after_keep["status"], after_keep["has_client_key"]) == ("ok", True)
    assert secret not in form.text + page.text + kept.text

    # Moved to an instance that needs no client certificate, it can be removed.
    removed = await admin.post(
        f"{PAGE}/{row['id']}/edit",
        data={**basic(servicenow), "remove_client_cert": "on", "csrf_token": admin.csrf},
    )
    [after_remove] = (await admin.get(API)).json()

    assert removed.status_code == 303, removed.text
    assert (after_remove["has_client_cert"], after_remove["has_client_key"]) == (False, False)


async def test_a_client_certificate_without_its_key_is_a_problem_of_the_key(
    browser, servicenow, pki
):
    admin = await browser("admin")

    refused = await admin.post(
        PAGE,
        data={**basic(servicenow), "client_cert": pki["client"][0], "csrf_token": admin.csrf},
    )

    assert refused.status_code == 422
    assert 'id="client_key-problem"' in refused.text
    assert "is needed with a client certificate" in refused.text
    assert (await admin.get(API)).json() == []
