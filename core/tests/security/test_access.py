"""Every route is protected: authentication, permissions, token scopes, CSRF, headers."""

from __future__ import annotations

import re
from typing import Any

import httpx

from pcm_ops.app import create_app
from pcm_ops.routes import EffectiveRoute, effective_routes
from pcm_ops.security.auth import declared_permission
from pcm_ops.security.permissions import AUTHENTICATED

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {"/healthz", "/readyz", "/metrics", "/login", "/api/auth/login", "/favicon.ico"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _api_routes(app: Any) -> list[tuple[str, EffectiveRoute]]:
    return [
        (method, route)
        for route in effective_routes(app.routes)
        if route.is_api
        for method in route.methods
        if method != "HEAD"
    ]


async def test_every_route_refuses_requests_without_credentials(platform: Any) -> None:
    checked = 0
    for method, route in _api_routes(platform.app):
        if route.path in PUBLIC:
            continue
        response = await platform.client.request(method, _concrete(route.path))
        assert response.status_code == 401, (method, route.path, response.status_code)
        checked += 1
    # core's own routes and the vault plugin's: the walk covered real routes.
    assert checked >= 12


async def test_every_non_public_route_declares_a_permission(platform: Any) -> None:
    undeclared = [
        f"{method} {route.path}"
        for method, route in _api_routes(platform.app)
        if route.path not in PUBLIC and declared_permission(route) is None
    ]
    assert undeclared == []


async def test_public_paths_answer_without_credentials(platform: Any) -> None:
    assert (await platform.client.get("/healthz")).status_code == 200
    assert (await platform.client.get("/readyz")).status_code in (200, 503)


async def test_a_probe_taken_out_of_the_public_paths_needs_a_login(platform: Any) -> None:
    """The probes are mounted without the app-wide dependency (they are called often) and
    check credentials themselves, and core's layer answers ``/healthz`` before routing only
    while it is public: taking one out of ``public_paths`` still protects it."""
    settings = platform.settings.model_copy(update={"public_paths": ["/metrics"]})
    app = create_app(settings, platform.app.state.registry)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")
    try:
        for path in ("/healthz", "/readyz"):
            assert (await client.get(path)).status_code == 401, path
            answer = await client.get(path, headers=platform.auth("vera"))
            assert answer.status_code in (200, 503), path
        assert (await client.get("/healthz?x=1")).status_code == 401
    finally:
        await client.aclose()
        await app.state.database.dispose()


async def test_viewer_gets_403_on_every_write_route(platform: Any) -> None:
    checked = 0
    for method, route in _api_routes(platform.app):
        if method not in WRITE_METHODS or route.path in PUBLIC:
            continue
        if declared_permission(route) == AUTHENTICATED:
            continue  # logout: every logged-in user may end their own session
        response = await platform.client.request(
            method, _concrete(route.path), headers=platform.auth("vera"), json={}
        )
        assert response.status_code == 403, (method, route.path, response.text)
        checked += 1
    assert checked >= 5


async def test_operator_may_write_where_the_role_allows(platform: Any) -> None:
    response = await platform.client.put(
        "/api/tools/test/vault/secrets",
        json={"name": "db", "value": "s3cr3t-value"},
        headers=platform.auth("oscar"),
    )
    assert response.status_code == 200, response.text


async def test_token_without_the_needed_scope_gets_403(platform: Any) -> None:
    response = await platform.client.post(
        "/api/auth/tokens",
        json={"name": "read-only", "scopes": ["vault:read"], "expires_in_days": 1},
        headers=platform.auth("oscar"),
    )
    assert response.status_code == 201, response.text
    narrow = {"Authorization": f"Bearer {response.json()['token']}"}
    denied = await platform.client.put(
        "/api/tools/test/vault/secrets", json={"name": "x", "value": "y"}, headers=narrow
    )
    assert denied.status_code == 403
    assert denied.json()["detail"] == (
        "permission 'vault:write' is required, and this API token's scopes do not include it "
        "(role 'operator' has it: use a token with that scope)"
    )
    allowed = await platform.client.get("/api/tools/test/vault/secrets/x", headers=narrow)
    assert allowed.status_code == 200


async def test_a_viewers_token_is_refused_for_what_the_role_lacks_naming_the_role(
    platform: Any,
) -> None:
    denied = await platform.client.put(
        "/api/tools/test/vault/secrets",
        json={"name": "x", "value": "y"},
        headers=platform.auth("vera"),
    )

    assert denied.status_code == 403
    assert denied.json()["detail"] == (
        "permission 'vault:write' is required, and role 'viewer' does not have it"
    )


async def test_a_viewers_session_is_refused_naming_the_role(platform: Any) -> None:
    client, csrf = await platform.session_login("vera")

    denied = await client.put(
        "/api/tools/test/vault/secrets",
        json={"name": "x", "value": "y"},
        headers={"X-CSRF-Token": csrf},
    )

    assert denied.status_code == 403
    assert denied.json()["detail"] == (
        "permission 'vault:write' is required, and role 'viewer' does not have it"
    )


async def test_token_cannot_carry_scopes_its_user_lacks(platform: Any) -> None:
    response = await platform.client.post(
        "/api/auth/tokens",
        json={"name": "greedy", "scopes": ["core:users.manage"]},
        headers=platform.auth("oscar"),
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "scopes"]
    assert "core:users.manage" in problem["msg"]


async def test_revoked_token_is_refused(platform: Any) -> None:
    created = await platform.client.post(
        "/api/auth/tokens",
        json={"name": "temp", "scopes": ["core:authenticated"]},
        headers=platform.auth("oscar"),
    )
    token = created.json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert (await platform.client.get("/api/auth/me", headers=headers)).status_code == 200
    revoked = await platform.client.delete(
        f"/api/auth/tokens/{token['id']}", headers=platform.auth("oscar")
    )
    assert revoked.status_code == 204
    assert (await platform.client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_token_list_never_shows_the_token(platform: Any) -> None:
    listed = await platform.client.get("/api/auth/tokens", headers=platform.auth("oscar"))
    assert listed.status_code == 200
    assert listed.json(), "the fixture's token is listed"
    assert platform.tokens["oscar"] not in listed.text
    assert all("token" not in row for row in listed.json())


async def test_session_request_without_csrf_token_gets_403(platform: Any) -> None:
    client, _csrf = await platform.session_login("oscar")
    response = await client.post(
        "/api/auth/tokens", json={"name": "from-browser", "scopes": ["vault:read"]}
    )
    assert response.status_code == 403
    assert "CSRF token missing" in response.json()["detail"]


async def test_session_request_with_wrong_csrf_token_gets_403(platform: Any) -> None:
    client, _csrf = await platform.session_login("oscar")
    response = await client.post(
        "/api/auth/tokens",
        json={"name": "from-browser", "scopes": ["vault:read"]},
        headers={"X-CSRF-Token": "forged"},
    )
    assert response.status_code == 403
    assert "CSRF token wrong" in response.json()["detail"]


async def test_same_session_request_with_csrf_token_succeeds(platform: Any) -> None:
    client, csrf = await platform.session_login("oscar")
    response = await client.post(
        "/api/auth/tokens",
        json={"name": "from-browser", "scopes": ["vault:read"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text


async def test_token_requests_need_no_csrf_token(platform: Any) -> None:
    response = await platform.client.post(
        "/api/auth/tokens",
        json={"name": "ci", "scopes": ["vault:read"]},
        headers=platform.auth("oscar"),
    )
    assert response.status_code == 201


async def test_session_cookie_is_opaque_httponly_and_lax(platform: Any) -> None:
    response = await platform.client.post(
        "/api/auth/login", json={"username": "vera", "password": "viewer password 12"}
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("pcm_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "vera" not in value
    assert len(value) >= 40


async def test_each_login_gets_a_new_session_id(platform: Any) -> None:
    ids = set()
    for _ in range(2):
        response = await platform.client.post(
            "/api/auth/login", json={"username": "vera", "password": "viewer password 12"}
        )
        ids.add(response.cookies["pcm_session"])
    assert len(ids) == 2


async def test_logout_ends_the_session(platform: Any) -> None:
    client, csrf = await platform.session_login("vera")
    assert (await client.get("/api/auth/me")).status_code == 200
    out = await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    client.cookies.clear()
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_idle_session_expires(platform: Any) -> None:
    from datetime import timedelta

    from sqlmodel import select

    from pcm_ops.security.models import WebSession

    client, _ = await platform.session_login("vera")
    async with platform.app.state.database.session() as session:
        for row in (await session.exec(select(WebSession))).all():
            row.last_seen_at = row.last_seen_at - timedelta(minutes=31)
            session.add(row)
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_repeated_failed_logins_are_throttled_with_429(platform: Any) -> None:
    statuses = []
    for _ in range(6):
        response = await platform.client.post(
            "/api/auth/login", json={"username": "alice", "password": "wrong password!!"}
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    assert int(response.headers["Retry-After"]) > 0
    # Throttled means the right password is refused too, until the window passes.
    right = await platform.client.post(
        "/api/auth/login", json={"username": "alice", "password": "correct horse battery"}
    )
    assert right.status_code == 429


async def test_security_headers_on_every_response(platform: Any) -> None:
    for path in ("/healthz", "/api/auth/me", "/no-such-page"):
        response = await platform.client.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"]
        assert "strict-transport-security" not in response.headers  # plain HTTP


async def test_cors_is_off_by_default(platform: Any) -> None:
    response = await platform.client.options(
        "/api/auth/me",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_nul_characters_are_refused_with_422_not_a_database_error(platform: Any) -> None:
    body = await platform.client.put(
        "/api/tools/test/vault/secrets",
        json={"name": "a\x00b", "value": "x"},
        headers=platform.auth("oscar"),
    )
    assert body.status_code == 422
    assert body.json()["detail"][0]["loc"] == ["body"]
    query = await platform.client.get("/api/audit?actor=a%00b", headers=platform.auth("alice"))
    assert query.status_code == 422


async def test_a_token_made_without_scopes_gets_all_of_its_users_permissions(
    platform: Any,
) -> None:
    made = await platform.client.post(
        "/api/auth/tokens", json={"name": "everything"}, headers=platform.auth("oscar")
    )
    me = await platform.client.get("/api/auth/me", headers=platform.auth("oscar"))

    assert made.status_code == 201, made.text
    assert sorted(made.json()["scopes"]) == sorted(me.json()["permissions"])


async def test_the_api_document_declares_how_operations_are_authenticated(
    platform: Any,
) -> None:
    document = (await platform.client.get("/openapi.json", headers=platform.auth("oscar"))).json()

    schemes = document["components"]["securitySchemes"]
    assert schemes["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `pcm-ops tokens create` or POST /api/auth/tokens.",
    }
    assert schemes["session"]["in"] == "cookie"
    assert document["security"] == [{"apiToken": []}, {"session": []}]
    assert document["paths"]["/api/auth/login"]["post"]["security"] == []
