"""TLS per connection: an extra CA bundle and a client certificate (mutual TLS), given as
PEM texts, against the fake served over HTTPS (``pki`` and ``https_fake`` come from the
tests' conftest)."""

import dataclasses
import tempfile

import pytest

from pcm_servicenow_cmdb.client import ServiceNowClient, ServiceNowUnavailable


@pytest.fixture
def https_settings(https_fake, servicenow_settings, pki):
    return dataclasses.replace(
        servicenow_settings,
        base_url=https_fake.url,
        ca_bundle=pki["ca"][0],
        client_cert=pki["client"][0],
        client_key=pki["client"][1],
        retries=0,
    )


async def test_mutual_tls_with_an_extra_ca(https_settings):
    async with ServiceNowClient(https_settings) as client:
        assert (await client.check()).startswith("authenticated as")


async def test_a_server_outside_the_ca_bundle_is_refused(https_settings):
    settings = dataclasses.replace(https_settings, ca_bundle=None)
    async with ServiceNowClient(settings) as client:
        with pytest.raises(ServiceNowUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            await client.check()


async def test_no_client_certificate_is_refused(https_settings):
    settings = dataclasses.replace(https_settings, client_cert=None, client_key=None)
    async with ServiceNowClient(settings) as client:
        with pytest.raises(ServiceNowUnavailable):
            await client.check()


async def test_the_pem_files_are_deleted_once_loaded(https_settings, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    async with ServiceNowClient(https_settings) as client:
        assert list(tmp_path.iterdir()) == []
        await client.check()


def test_an_invalid_client_key_is_a_clear_error(https_settings, pki):
    settings = dataclasses.replace(https_settings, client_key=pki["stranger"][1])
    with pytest.raises(ValueError, match="'fake': the client certificate or key is not valid"):
        ServiceNowClient(settings)


def test_an_invalid_ca_bundle_is_a_clear_error(https_settings):
    settings = dataclasses.replace(https_settings, ca_bundle="not a certificate")
    with pytest.raises(ValueError, match="'fake': the CA bundle is not valid PEM"):
        ServiceNowClient(settings)
