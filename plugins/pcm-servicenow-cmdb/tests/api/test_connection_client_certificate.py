"""A connection's client certificate (mutual TLS): given as PEM texts with the API, checked
against a fake ServiceNow that requires one over real HTTPS; the key write-only and never
logged; the certificate and key come together, or neither."""

from __future__ import annotations

import logging

import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

CONNECTIONS = "/api/tools/servicenow/cmdb/connections"


def mtls(https_fake, pki, **overrides):
    return {
        "name": "secure",
        "base_url": https_fake.url,
        "auth_kind": "basic",
        "username": DEFAULT_USERNAME,
        "password": DEFAULT_PASSWORD,
        "ca_bundle": pki["ca"][0],
        "client_cert": pki["client"][0],
        "client_key": pki["client"][1],
        **overrides,
    }


def key_body(pki) -> str:
    """The key's base64 body, as it would appear anywhere it leaked."""
    return pki["client"][1].splitlines()[1]


async def test_a_connection_with_a_client_certificate_works_over_mutual_tls(
    pcm_admin_client, https_fake, pki, caplog
):
    caplog.set_level(logging.DEBUG)
    before = len(https_fake.requests)

    created = await pcm_admin_client.post(CONNECTIONS, json=mtls(https_fake, pki))
    checked = await pcm_admin_client.post(f"{CONNECTIONS}/{created.json()['id']}/check")
    shown = await pcm_admin_client.get(f"{CONNECTIONS}/{created.json()['id']}")
    listed = await pcm_admin_client.get(CONNECTIONS)
    audit = await pcm_admin_client.get(
        "/api/audit", params={"object_type": "servicenow-connection"}
    )

    assert created.status_code == 201, created.text
    connection = created.json()
    assert connection["status"] == "ok"
    assert (connection["has_client_cert"], connection["has_client_key"]) == (True, True)
    assert "client_key" not in connection
    assert checked.json()["ok"] is True, checked.text
    assert len(https_fake.requests) >= before + 2  # really asked, over mutual TLS
    everything = created.text + checked.text + shown.text + listed.text + audit.text
    assert key_body(pki) not in everything + caplog.text


async def test_without_the_client_certificate_the_check_fails_and_nothing_is_saved(
    pcm_admin_client, https_fake, pki
):
    body = mtls(https_fake, pki)
    del body["client_cert"], body["client_key"]

    refused = await pcm_admin_client.post(CONNECTIONS, json=body)

    assert refused.status_code == 502
    assert (await pcm_admin_client.get(CONNECTIONS)).json() == []


@pytest.mark.parametrize(
    ("left_out", "field", "message"),
    [
        ("client_key", "client_key", "is needed with a client certificate"),
        ("client_cert", "client_cert", "is needed with a client key"),
    ],
)
async def test_one_without_the_other_is_a_422_naming_the_missing_one(
    pcm_admin_client, https_fake, pki, left_out, field, message
):
    before = len(https_fake.requests)

    response = await pcm_admin_client.post(
        CONNECTIONS, json=mtls(https_fake, pki, **{left_out: None})
    )

    assert response.status_code == 422
    assert [(p["loc"][-1], p["msg"]) for p in response.json()["detail"]] == [(field, message)]
    assert len(https_fake.requests) == before
    assert key_body(pki) not in response.text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"client_cert": "not a certificate"}, "client_cert", "must be a PEM certificate"),
        ({"client_key": "not a key"}, "client_key", "must be a PEM private key"),
        (
            {"client_key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"},
            "client_key",
            "must be unencrypted",
        ),
    ],
)
async def test_what_is_not_pem_is_a_422_naming_the_field(
    pcm_admin_client, https_fake, pki, overrides, field, message
):
    response = await pcm_admin_client.post(CONNECTIONS, json=mtls(https_fake, pki, **overrides))

    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["loc"][-1], message in problem["msg"]) == (field, True)


async def test_a_key_that_does_not_belong_to_the_certificate_is_a_422_not_a_500(
    pcm_admin_client, https_fake, pki
):
    response = await pcm_admin_client.post(
        CONNECTIONS, json=mtls(https_fake, pki, client_key=pki["stranger"][1])
    )

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"][-1] == "client_cert"
    assert "client certificate or key is not valid" in problem["msg"]
    assert pki["stranger"][1].splitlines()[1] not in response.text


async def test_a_change_keeps_the_key_left_out_and_both_null_remove_the_certificate(
    pcm_admin_client, https_fake, pki
):
    created = (await pcm_admin_client.post(CONNECTIONS, json=mtls(https_fake, pki))).json()
    url = f"{CONNECTIONS}/{created['id']}"

    kept = await pcm_admin_client.patch(url, json={"client_cert": pki["client"][0]})
    half = await pcm_admin_client.patch(url, json={"client_cert": None})
    removed = await pcm_admin_client.patch(url, json={"client_cert": None, "client_key": None})
    shown = await pcm_admin_client.get(url)

    assert kept.status_code == 200, kept.text
    assert (kept.json()["status"], kept.json()["has_client_key"]) == ("ok", True)
    assert half.status_code == 422
    assert [p["loc"][-1] for p in half.json()["detail"]] == ["client_cert"]
    # Without its certificate the server refuses the handshake: not saved, still stored.
    assert removed.status_code == 502
    assert (shown.json()["has_client_cert"], shown.json()["has_client_key"]) == (True, True)


async def test_a_plain_connection_has_no_client_certificate(pcm_admin_client, servicenow):
    created = await pcm_admin_client.post(
        CONNECTIONS,
        json={
            "name": "plain",
            "base_url": servicenow.url,
            "auth_kind": "basic",
            "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD,
        },
    )

    assert created.status_code == 201, created.text
    assert (created.json()["has_client_cert"], created.json()["has_client_key"]) == (False, False)
