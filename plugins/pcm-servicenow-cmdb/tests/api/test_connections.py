"""``/connections``: checked with a real call against the fake ServiceNow before they are
saved; secrets write-only, never logged; only admins manage them."""

from __future__ import annotations

import logging
import socket

import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

CONNECTIONS = "/api/tools/servicenow/cmdb/connections"


def body(servicenow, **overrides):
    return {
        "name": "acme",
        "base_url": servicenow.url,
        "auth_kind": "basic",
        "username": DEFAULT_USERNAME,
        "password": DEFAULT_PASSWORD,
        **overrides,
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_admin_adds_a_connection_checked_by_a_real_call(
    pcm_admin_client, servicenow, caplog
):
    caplog.set_level(logging.DEBUG)
    before = len(servicenow.requests)

    created = await pcm_admin_client.post(CONNECTIONS, json=body(servicenow))
    listed = await pcm_admin_client.get(CONNECTIONS)

    assert created.status_code == 201, created.text
    connection = created.json()
    assert (connection["name"], connection["status"], connection["has_password"]) == (
        "acme",
        "ok",
        True,
    )
    assert connection["last_success_at"] is not None
    assert len(servicenow.requests) > before  # ServiceNow was really asked
    assert DEFAULT_PASSWORD not in created.text + listed.text  # write-only
    assert "password" not in connection
    assert DEFAULT_PASSWORD not in caplog.text  # never logged


async def test_credentials_servicenow_refuses_are_a_422_naming_the_field_and_nothing_is_saved(
    pcm_admin_client, servicenow
):
    refused = await pcm_admin_client.post(CONNECTIONS, json=body(servicenow, password="wrong"))
    listed = await pcm_admin_client.get(CONNECTIONS)

    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "password"]
    assert "ServiceNow refused these credentials" in problem["msg"]
    assert "wrong" not in refused.text
    assert listed.json() == []


async def test_an_instance_that_cannot_be_reached_is_a_502(pcm_admin_client, servicenow):
    url = f"http://127.0.0.1:{closed_port()}"

    response = await pcm_admin_client.post(CONNECTIONS, json=body(servicenow, base_url=url))

    assert response.status_code == 502
    assert "acme" in response.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"base_url": "ftp://acme"}, "base_url", "must be an instance address"),
        ({"base_url": "http://acme.service-now.com"}, "base_url", "must use https"),
        ({"password": ""}, "password", "is needed for basic authentication"),
        ({"auth_kind": "api_key", "password": ""}, "api_key", "is needed for api_key"),
        ({"ca_bundle": "not a certificate"}, "ca_bundle", "must be PEM certificates"),
    ],
)
async def test_bad_fields_are_named_before_servicenow_is_asked(
    pcm_admin_client, servicenow, overrides, field, message
):
    before = len(servicenow.requests)

    response = await pcm_admin_client.post(CONNECTIONS, json=body(servicenow, **overrides))

    assert response.status_code == 422
    assert [(p["loc"][-1], message in p["msg"]) for p in response.json()["detail"]] == [
        (field, True)
    ]
    assert len(servicenow.requests) == before


async def test_a_duplicate_name_is_a_conflict(pcm_admin_client, servicenow):
    await pcm_admin_client.post(CONNECTIONS, json=body(servicenow))

    again = await pcm_admin_client.post(CONNECTIONS, json=body(servicenow))

    assert again.status_code == 409


async def test_a_change_keeps_the_secrets_left_out_and_a_check_records_an_outage(
    pcm_admin_client, servicenow
):
    created = (await pcm_admin_client.post(CONNECTIONS, json=body(servicenow))).json()
    url = f"{CONNECTIONS}/{created['id']}"

    changed = await pcm_admin_client.patch(url, json={"timeout_seconds": 5})
    servicenow.outage(True)
    checked = await pcm_admin_client.post(f"{url}/check")
    servicenow.outage(False)
    shown = await pcm_admin_client.get(url)

    assert changed.status_code == 200, changed.text
    assert changed.json()["timeout_seconds"] == 5
    assert changed.json()["status"] == "ok"  # checked again with the kept password
    assert checked.status_code == 200
    assert checked.json()["ok"] is False
    assert shown.json()["status"] == "error"
    assert shown.json()["last_error"]


async def test_viewers_see_connections_but_cannot_manage_them(
    pcm_admin_client, pcm_auth_headers, pcm_client, servicenow
):
    created = (await pcm_admin_client.post(CONNECTIONS, json=body(servicenow))).json()
    viewer = await pcm_auth_headers("viewer")

    listed = await pcm_client.get(CONNECTIONS, headers=viewer)
    added = await pcm_client.post(CONNECTIONS, json=body(servicenow, name="b"), headers=viewer)
    removed = await pcm_client.delete(f"{CONNECTIONS}/{created['id']}", headers=viewer)
    anonymous = await pcm_client.get(CONNECTIONS)

    assert listed.status_code == 200
    assert [c["name"] for c in listed.json()] == ["acme"]
    assert (added.status_code, removed.status_code, anonymous.status_code) == (403, 403, 401)


async def test_removing_a_connection_is_audited_without_secrets(pcm_admin_client, servicenow):
    created = (await pcm_admin_client.post(CONNECTIONS, json=body(servicenow))).json()

    removed = await pcm_admin_client.delete(f"{CONNECTIONS}/{created['id']}")
    audit = await pcm_admin_client.get(
        "/api/audit", params={"object_type": "servicenow-connection"}
    )

    assert removed.status_code == 204
    assert (await pcm_admin_client.get(f"{CONNECTIONS}/{created['id']}")).status_code == 404
    actions = [event["action"] for event in audit.json()["events"]]
    assert "servicenow-cmdb.connection.create" in actions
    assert "servicenow-cmdb.connection.delete" in actions
    assert DEFAULT_PASSWORD not in audit.text
