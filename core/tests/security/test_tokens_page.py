"""The API tokens page (/tokens), the token API's defaults and the OpenAPI security schemes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

OSCAR_PASSWORD = "operator password 1"  # the operator of conftest.py
SECRET = re.compile(r"pcm_[A-Za-z0-9_-]{40,}")


@pytest.fixture
async def browser(platform: Any) -> Any:
    """A browser-like client, logged in as oscar (an operator) through the login form."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.app),
        base_url="http://testserver",
        headers={"Accept": "text/html"},
    )
    response = await client.post("/login", data={"username": "oscar", "password": OSCAR_PASSWORD})
    assert response.status_code == 303, response.text
    yield client
    await client.aclose()


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


async def _create(browser: Any, **fields: Any) -> httpx.Response:
    page = (await browser.get("/tokens")).text
    return await browser.post("/tokens", data={"csrf_token": _csrf(page), **fields})


async def test_a_token_made_on_the_page_is_shown_once_listed_without_its_secret_and_revoked(
    platform: Any, browser: Any
) -> None:
    made = await _create(
        browser,
        name="nightly-report",
        scopes=["core:authenticated", "core:jobs.read"],
        expires_in_days="30",
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    secrets = SECRET.findall(made.text)
    assert len(set(secrets)) == 1
    secret = secrets[0]
    me = await platform.client.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.json()["permissions"] == ["core:authenticated", "core:jobs.read"]

    listed = await browser.get("/tokens")
    assert listed.status_code == 200
    assert "nightly-report" in listed.text
    assert secret[:10] in listed.text  # its prefix identifies it
    assert secret not in listed.text
    assert SECRET.search(listed.text) is None

    mine = await platform.client.get("/api/auth/tokens", headers=platform.auth("oscar"))
    token_id = next(t["id"] for t in mine.json() if t["name"] == "nightly-report")
    confirm = await browser.get(f"/tokens/{token_id}/revoke")
    assert confirm.status_code == 200
    assert "Revoke token nightly-report?" in confirm.text
    still = await platform.client.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert still.status_code == 200  # asking is not revoking

    revoked = await browser.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": _csrf(confirm.text)}
    )
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/tokens"
    gone = await platform.client.get("/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401
    after = await browser.get("/tokens")
    assert "is revoked." in after.text
    assert 'badge--revoked">revoked<' in after.text


async def test_the_form_offers_the_users_own_permissions_all_chosen(browser: Any) -> None:
    page = (await browser.get("/tokens")).text

    offered = re.findall(r'name="scopes" value="([^"]+)" checked', page)
    assert "core:tokens.manage" in offered
    assert "core:users.manage" not in page  # an operator's role does not hold it


async def test_a_scope_the_user_lacks_is_refused_next_to_the_scopes_field(browser: Any) -> None:
    refused = await _create(browser, name="greedy", scopes=["core:users.manage"])

    assert refused.status_code == 422
    assert 'href="#scopes">scopes</a>: core:users.manage not held by user' in refused.text
    assert SECRET.search(refused.text) is None


async def test_a_token_without_a_name_or_scopes_is_refused_naming_both(browser: Any) -> None:
    refused = await _create(browser, name=" ", expires_in_days="90")

    assert refused.status_code == 422
    assert 'href="#name">name</a>' in refused.text
    assert 'href="#scopes">scopes</a>' in refused.text


async def test_the_page_posts_need_the_csrf_token(browser: Any) -> None:
    refused = await browser.post("/tokens", data={"name": "x", "scopes": ["core:jobs.read"]})
    assert refused.status_code == 403


async def test_another_users_token_cannot_be_revoked_from_the_page(
    platform: Any, browser: Any
) -> None:
    made = await platform.client.post(
        "/api/auth/tokens", json={"name": "vera's"}, headers=platform.auth("alice")
    )
    token_id = made.json()["id"]
    page = (await browser.get("/tokens")).text

    assert (await browser.get(f"/tokens/{token_id}/revoke")).status_code == 404
    refused = await browser.post(f"/tokens/{token_id}/revoke", data={"csrf_token": _csrf(page)})
    assert refused.status_code == 404


async def test_viewers_have_no_tokens_page_and_no_link_to_it(platform: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.app),
        base_url="http://testserver",
        headers={"Accept": "text/html"},
    ) as client:
        await client.post("/login", data={"username": "vera", "password": "viewer password 12"})
        home = await client.get("/")
        assert 'href="/tokens"' not in home.text
        assert (await client.get("/tokens")).status_code == 403


async def test_the_user_menu_links_to_the_tokens_page(browser: Any) -> None:
    home = (await browser.get("/")).text
    assert '<a href="/tokens">API tokens</a>' in home


async def test_the_api_refuses_a_scope_the_user_lacks_naming_scopes(platform: Any) -> None:
    refused = await platform.client.post(
        "/api/auth/tokens",
        json={"name": "greedy", "scopes": ["core:jobs.read", "core:audit.read"]},
        headers=platform.auth("oscar"),
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "scopes"]
    assert "core:audit.read" in refused.json()["detail"][0]["msg"]


async def test_the_api_schema_documents_the_default_scopes(platform: Any) -> None:
    document = (await platform.client.get("/openapi.json", headers=platform.auth("oscar"))).json()
    scopes = document["components"]["schemas"]["TokenIn"]["properties"]["scopes"]
    assert "default: all of them" in scopes["description"]
    assert "scopes" not in document["components"]["schemas"]["TokenIn"].get("required", [])


async def test_protected_operations_list_their_security_and_public_ones_none(
    platform: Any,
) -> None:
    document = (await platform.client.get("/openapi.json", headers=platform.auth("oscar"))).json()

    assert set(document["components"]["securitySchemes"]) == {"apiToken", "session"}
    expected = [{"apiToken": []}, {"session": []}]
    assert document["paths"]["/api/auth/tokens"]["post"]["security"] == expected
    assert document["paths"]["/api/audit"]["get"]["security"] == expected
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert document["paths"]["/api/auth/login"]["post"]["security"] == []


async def test_the_api_documents_answer_401_to_an_anonymous_browser(platform: Any) -> None:
    for path in ("/openapi.json", "/docs"):
        response = await platform.client.get(path)
        assert response.status_code == 401, path
