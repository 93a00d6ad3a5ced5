"""The plugin's pages: they render, forms change the registry (with CSRF), and nothing is
inline (the Content-Security-Policy forbids it)."""

from __future__ import annotations

import re

import httpx
import pytest

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
pytestmark = SQLITE_ONLY


PAGES = "/tools/aws/common"


async def _browser(api, pcm_app, username_role="admin"):
    """A client logged in through the browser flow, and its CSRF token."""
    from pcm_ops.security.users import create_user

    async with api.database.session() as session:
        await create_user(session, f"browser-{username_role}", "browser password 1", username_role)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=pcm_app), base_url="http://testserver"
    )
    login = await client.post(
        "/api/auth/login",
        json={"username": f"browser-{username_role}", "password": "browser password 1"},
    )
    assert login.status_code == 200, login.text
    return client, login.json()["csrf_token"]


async def test_every_page_renders_without_inline_script_or_style(api):
    source = await api.add_keys("org")
    await api.add_account(
        account_id="222222222222",
        name="Member",
        partition="aws",
        regions=["us-east-1"],
        credential_source_id=source["id"],
    )

    for path in ("/", "/accounts", "/accounts/222222222222", "/credentials", "/accounts/import"):
        response = await api.page(PAGES + path)
        assert response.status_code == 200, (path, response.text[:500])
        assert "<script>" not in response.text
        assert " style=" not in response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path
        assert "Member" in response.text or path in ("/", "/credentials", "/accounts/import")
    stylesheet = await api.page(PAGES + "/static/aws-common.css")
    assert stylesheet.status_code == 200


async def test_viewers_see_accounts_but_no_forms_to_change_them(api):
    page = await api.page(PAGES + "/accounts", "viewer")

    assert page.status_code == 200
    assert 'method="post" action="/tools/aws/common/accounts"' not in page.text
    assert (await api.page(PAGES + "/accounts/import", "viewer")).status_code == 403


async def test_an_account_is_added_through_the_form(api, pcm_app):
    source = await api.add_keys("org")
    client, csrf = await _browser(api, pcm_app)
    form = {
        "csrf_token": csrf,
        "account_id": "222222222222",
        "name": "Member",
        "partition": "aws",
        "regions": ["us-east-1", "us-west-2"],
        "credential_source_id": str(source["id"]),
        "role_arn": "arn:aws:iam::222222222222:role/PcmOpsAccess",
        "external_id": "",
        "session_duration_seconds": "3600",
        "tags": "env=prod\nteam=ops",
        "description": "",
    }
    try:
        added = await client.post(PAGES + "/accounts", data=form)
        without_csrf = await client.post(PAGES + "/accounts", data={**form, "csrf_token": ""})
        bad = await client.post(
            PAGES + "/accounts",
            data={**form, "account_id": "333333333333", "regions": ["us-gov-west-1"]},
        )
        checked = await client.post(
            PAGES + "/accounts/222222222222/check", data={"csrf_token": csrf}
        )
        # Post/redirect/get: the address bar shows the account page, which reloads.
        after_check = await client.get(checked.headers.get("location", "/nowhere"))
    finally:
        await client.aclose()

    assert (added.status_code, added.headers["location"]) == (
        303,
        "/tools/aws/common/accounts/222222222222",
    )
    account = (await api.get("/accounts/222222222222")).json()
    assert (account["regions"], account["tags"]) == (
        ["us-east-1", "us-west-2"],
        {"env": "prod", "team": "ops"},
    )
    assert without_csrf.status_code == 403
    assert bad.status_code == 422
    assert "is not a region of partition aws (Commercial)" in bad.text
    assert (checked.status_code, checked.headers["location"]) == (
        303,
        "/tools/aws/common/accounts/222222222222",
    )
    assert "Reached account 222222222222 as" in after_check.text
    assert "assumed-role/PcmOpsAccess" in after_check.text


async def test_keys_entered_in_the_form_are_validated_and_never_shown_again(api, pcm_app):
    management = api.moto.account("management")
    client, csrf = await _browser(api, pcm_app, "operator")
    try:
        rejected = await client.post(
            PAGES + "/credentials",
            data={
                "csrf_token": csrf,
                "name": "typo",
                "partition": "aws",
                "kind": "keys",
                "access_key_id": management.access_key_id,
                "secret_access_key": "wrong" * 8,
            },
        )
        saved = await client.post(
            PAGES + "/credentials",
            data={
                "csrf_token": csrf,
                "name": "mine",
                "partition": "aws",
                "kind": "keys",
                "access_key_id": management.access_key_id,
                "secret_access_key": management.secret_access_key,
                "expires_at": "2999-01-01T00:00",  # a browser's datetime-local: no zone
            },
        )
        listed = await client.get(PAGES + "/credentials")
    finally:
        await client.aclose()

    assert rejected.status_code == 422
    assert "SignatureDoesNotMatch" in rejected.text
    assert "wrong" * 8 not in rejected.text
    assert saved.status_code == 303
    assert "mine" in listed.text
    assert "valid" in listed.text
    assert management.secret_access_key not in listed.text
    assert "2999-01-01 00:00 UTC" in listed.text


async def test_a_malformed_key_is_explained_in_words_next_to_its_field(api, pcm_app):
    client, csrf = await _browser(api, pcm_app, "operator")
    try:
        rejected = await client.post(
            PAGES + "/credentials",
            data={
                "csrf_token": csrf,
                "name": "typo",
                "partition": "aws",
                "kind": "keys",
                "access_key_id": "lowercase-key",
                "secret_access_key": "x" * 40,
            },
        )
    finally:
        await client.aclose()

    assert rejected.status_code == 422
    assert "has characters that are not allowed here" in rejected.text
    assert "should match pattern" not in rejected.text  # pydantic's wording stays out
    assert "[A-Z0-9]" not in rejected.text


async def test_accounts_are_imported_through_the_preview_form(api, pcm_app, moto_aws):
    organization = moto_aws.ensure_organization("111111111111", 25)
    source = await api.add_keys("org")
    client, csrf = await _browser(api, pcm_app)
    settings = {
        "csrf_token": csrf,
        "credential_source_id": str(source["id"]),
        "management_role_arn": "",
        "member_role_name": "OrganizationAccountAccessRole",
        "external_id": "",
        "regions": ["us-east-1"],
        "tags": "imported=yes",
    }
    chosen = sorted(a["Id"] for a in organization if a["Id"] != "111111111111")[:2]
    try:
        preview = await client.post(PAGES + "/accounts/import/preview", data=settings)
        saved = await client.post(
            PAGES + "/accounts/import", data={**settings, "account_ids": chosen}
        )
    finally:
        await client.aclose()

    assert preview.status_code == 200
    assert all(account["Id"] in preview.text for account in organization)
    assert 'name="account_ids"' in preview.text
    assert saved.status_code == 303
    listed = (await api.get("/accounts")).json()
    assert sorted(a["account_id"] for a in listed) == chosen
    assert {a["tags"]["imported"] for a in listed} == {"yes"}


async def test_changes_on_the_pages_are_audited_as_the_apis_are(api, pcm_app):
    source = await api.add_keys("org")
    client, csrf = await _browser(api, pcm_app)
    form = {
        "csrf_token": csrf,
        "account_id": "222222222222",
        "name": "Member",
        "partition": "aws",
        "regions": ["us-east-1"],
        "credential_source_id": str(source["id"]),
        "tags": "",
    }
    try:
        await client.post(PAGES + "/accounts", data=form)
        await client.post(PAGES + "/accounts/222222222222/delete", data={"csrf_token": csrf})
    finally:
        await client.aclose()

    events = (await api.page("/api/audit?action=aws-common.account.*")).json()["events"]

    assert [(e["action"], e["actor"]) for e in events] == [
        ("aws-common.account.delete", "browser-admin"),
        ("aws-common.account.create", "browser-admin"),
    ]
    assert events[1]["details"] == {
        "name": "Member",
        "partition": "aws",
        "regions": ["us-east-1"],
        "credential_source_id": source["id"],
        "role_arn": None,
        "origin": "manual",
    }
