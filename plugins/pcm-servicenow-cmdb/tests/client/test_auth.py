"""Basic, OAuth 2.0 (token cached, renewed before it expires, re-authenticated once on a
401) and API key authentication."""

import pytest

import pcm_servicenow_cmdb.client as client_module
from pcm_servicenow_cmdb.client import ServiceNowAuthError
from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME


def token_requests(servicenow):
    return [r for r in servicenow.requests if r.path == "/oauth_token.do"]


async def test_basic(connect):
    async with connect() as client:
        assert await client.check() == (
            "authenticated as pcm.integration; change_request is readable"
        )
    assert client.request_count == 1


async def test_client_credentials_token_is_fetched_once_and_reused(
    connect, servicenow, oauth_client
):
    async with connect(**oauth_client) as client:
        for _ in range(3):
            await client.records("change_request")
        assert await client.check() == (
            "authenticated with OAuth client pcm-ops; change_request is readable"
        )
    assert len(token_requests(servicenow)) == 1
    assert client.request_count == 5


async def test_password_grant(connect, servicenow, oauth_client):
    settings = oauth_client | {
        "auth_kind": "oauth_password",
        "username": DEFAULT_USERNAME,
        "password": DEFAULT_PASSWORD,
    }
    async with connect(**settings) as client:
        assert await client.check() == (
            "authenticated as pcm.integration; change_request is readable"
        )
    assert len(token_requests(servicenow)) == 1


async def test_a_token_refused_with_401_is_renewed_once(connect, servicenow, oauth_client):
    async with connect(**oauth_client) as client:
        await client.records("change_request")
        servicenow.expire_tokens()
        await client.records("change_request")
    assert len(token_requests(servicenow)) == 2
    assert len(servicenow.table_requests("change_request")) == 3


async def test_a_second_401_is_an_auth_error(connect, servicenow, oauth_client):
    servicenow.set_token_lifetime(0)  # every token is dead on arrival
    async with connect(**oauth_client) as client:
        with pytest.raises(ServiceNowAuthError, match="User Not Authenticated"):
            await client.records("change_request")
    assert len(token_requests(servicenow)) == 2
    assert len(servicenow.table_requests("change_request")) == 2


async def test_a_token_is_renewed_shortly_before_it_expires(
    connect, servicenow, oauth_client, monkeypatch
):
    servicenow.set_token_lifetime(300)
    now = [1000.0]
    monkeypatch.setattr(client_module, "_clock", lambda: now[0])
    async with connect(**oauth_client) as client:
        await client.records("change_request")
        now[0] += 269  # 300 s less the 30 s margin (a tenth of it): not yet
        await client.records("change_request")
        assert len(token_requests(servicenow)) == 1
        now[0] += 2
        await client.records("change_request")
    assert len(token_requests(servicenow)) == 2


async def test_a_refused_client_secret_is_an_auth_error(connect, servicenow, oauth_client):
    async with connect(**oauth_client | {"client_secret": "wrong"}) as client:
        with pytest.raises(ServiceNowAuthError) as caught:
            await client.records("change_request")
    message = str(caught.value)
    assert "POST oauth_token.do (for GET change_request)" in message
    assert "access_denied" in message
    assert caught.value.status == 401


async def test_api_key(connect, servicenow):
    servicenow.add_api_key("sn-api-key-4d2c")
    settings = {
        "auth_kind": "api_key",
        "api_key": "sn-api-key-4d2c",
        "username": "",
        "password": "",
    }
    async with connect(**settings) as client:
        assert await client.check() == ("authenticated with an API key; change_request is readable")


async def test_a_wrong_api_key_is_an_auth_error(connect, servicenow):
    settings = {"auth_kind": "api_key", "api_key": "nope", "username": "", "password": ""}
    async with connect(**settings) as client:
        with pytest.raises(ServiceNowAuthError):
            await client.check()


async def test_basic_auth_is_not_retried_on_401(connect):
    async with connect(password="wrong") as client:
        with pytest.raises(ServiceNowAuthError):
            await client.check()
    assert client.request_count == 1
