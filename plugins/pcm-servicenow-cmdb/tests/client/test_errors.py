"""Errors name the connection and the call, say what ServiceNow said, and hold no secret."""

import dataclasses
import logging

import pytest

from pcm_servicenow_cmdb.client import (
    ConnectionSettings,
    ServiceNowAuthError,
    ServiceNowError,
    ServiceNowForbidden,
    ServiceNowNotFound,
    ServiceNowUnavailable,
)
from pcm_servicenow_cmdb.query import Query


async def test_a_missing_record_is_not_found_and_says_it_may_be_hidden(connect):
    missing = "0" * 32
    async with connect() as client:
        with pytest.raises(ServiceNowNotFound) as caught:
            await client.record("change_request", missing)
    error = caught.value
    assert (error.connection, error.call, error.status) == (
        "fake",
        f"GET change_request/{missing}",
        404,
    )
    assert str(error) == (
        f"ServiceNow connection 'fake': GET change_request/{missing} failed (HTTP 404): "
        "No Record found: Record doesn't exist or ACL restricts the record retrieval. "
        "The record does not exist, or an ACL hides it from the integration user"
    )


async def test_a_forbidden_table_is_forbidden(connect, servicenow):
    servicenow.forbid("change_request")
    async with connect() as client:
        with pytest.raises(ServiceNowForbidden) as caught:
            await client.records("change_request")
    assert "GET change_request failed (HTTP 403): User Not Authorized" in str(caught.value)


async def test_forbidden_check(connect, servicenow):
    servicenow.forbid("change_request")
    async with connect() as client:
        with pytest.raises(ServiceNowForbidden, match="lacks a role or an ACL"):
            await client.check()


async def test_an_invalid_query_is_an_error_with_servicenows_words(connect):
    async with connect() as client:
        with pytest.raises(
            ServiceNowError, match="Invalid query: unknown field 'colour'"
        ) as caught:
            await client.records("change_request", query="colour=red")
    assert type(caught.value) is ServiceNowError
    assert caught.value.status == 400


async def test_an_unknown_table(connect):
    async with connect() as client:
        with pytest.raises(ServiceNowError, match="Invalid table u_nothing"):
            await client.records("u_nothing")


def all_secrets():
    return ["hunter2-basic-pw", "oauth-secret-9b1", "api-key-77c"]


@pytest.mark.parametrize(
    "settings",
    [
        {"password": "hunter2-basic-pw"},
        {
            "auth_kind": "oauth_password",
            "client_id": "pcm-ops",
            "client_secret": "oauth-secret-9b1",
            "password": "hunter2-basic-pw",
        },
        {"auth_kind": "api_key", "api_key": "api-key-77c"},
    ],
    ids=["basic", "oauth", "api_key"],
)
async def test_refused_secrets_appear_in_no_error_and_no_log(connect, caplog, settings):
    caplog.set_level(logging.DEBUG)
    async with connect(**settings) as client:
        with pytest.raises(ServiceNowAuthError) as caught:
            await client.check()
    texts = [str(caught.value), repr(caught.value), repr(client.settings), caplog.text]
    for secret in all_secrets():
        assert not any(secret in text for text in texts)


async def test_a_secret_echoed_by_the_server_is_masked():
    import httpx

    from pcm_servicenow_cmdb.client import ServiceNowClient

    def echo(request):
        return httpx.Response(500, json={"error": {"message": "bad password hunter2-basic-pw"}})

    settings = ConnectionSettings(
        name="echo",
        base_url="https://sn.example",
        auth_kind="basic",
        username="u",
        password="hunter2-basic-pw",
        retries=0,
    )
    async with ServiceNowClient(settings, transport=httpx.MockTransport(echo)) as client:
        with pytest.raises(ServiceNowUnavailable) as caught:
            await client.records("x")
    assert "hunter2" not in str(caught.value)
    assert "bad password ***" in str(caught.value)


async def test_a_tokens_value_is_never_logged(connect, servicenow, oauth_client, caplog):
    caplog.set_level(logging.DEBUG)
    async with connect(**oauth_client) as client:
        await client.records("change_request")
        token = client._token.value
    assert token not in caplog.text
    assert "client-secret-7f3a" not in caplog.text


async def test_hostile_search_text_stays_one_like_condition(connect, servicenow):
    servicenow.add("change_request", short_description="Patch web", active=True)
    servicenow.add("change_request", short_description="Upgrade db", active=True)
    query = Query().like("short_description", "x^ORactive=true")
    async with connect() as client:
        assert await client.records("change_request", query=query) == []
    (sent,) = servicenow.table_requests("change_request")
    assert sent["sysparm_query"] == "short_descriptionLIKEx ORactive=true"


def test_settings_hide_secrets_in_repr():
    settings = ConnectionSettings(
        name="prod",
        base_url="https://x.service-now.com",
        auth_kind="oauth_client_credentials",
        client_id="id",
        client_secret="very-secret",
        client_cert="CERT",
        client_key="KEY-PEM",
    )
    assert "very-secret" not in repr(settings)
    assert "KEY-PEM" not in repr(settings)
    assert "prod" in repr(settings)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"auth_kind": "kerberos"}, "unknown auth_kind 'kerberos'"),
        ({"base_url": "x.service-now.com"}, "must be an http"),
        ({"client_cert": "CERT"}, "needs both client_cert and client_key"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"retries": -1}, "retries"),
    ],
)
def test_settings_are_validated(changes, problem):
    base = ConnectionSettings(name="prod", base_url="https://x.service-now.com", auth_kind="basic")
    with pytest.raises(ValueError, match=problem):
        dataclasses.replace(base, **changes)
