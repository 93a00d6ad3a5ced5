"""TLS per connection: an extra CA bundle and a client certificate (mutual TLS), given as
PEM texts, against the fake served over HTTPS."""

import dataclasses
import datetime
import ipaddress
import tempfile

import pytest

from pcm_servicenow_cmdb.client import ServiceNowClient, ServiceNowUnavailable
from pcm_servicenow_cmdb.testing.fake import FakeServiceNow

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def issue(name, issuer=None, *, ca=False, ip=None):
    """(certificate PEM, key PEM, certificate, key), signed by ``issuer`` or by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[2].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
    certificate = builder.sign(issuer[3] if issuer else key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem, certificate, key


@pytest.fixture(scope="module")
def pki():
    ca = issue("Test CA", ca=True)
    return {
        "ca": ca,
        "server": issue("127.0.0.1", ca, ip="127.0.0.1"),
        "client": issue("pcm-ops", ca),
        "stranger": issue("stranger"),
    }


@pytest.fixture(scope="module")
def https_fake(pki, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    for name, (cert, key, *_) in pki.items():
        (folder / f"{name}.pem").write_text(cert)
        (folder / f"{name}.key").write_text(key)
    with FakeServiceNow(
        certfile=str(folder / "server.pem"),
        keyfile=str(folder / "server.key"),
        client_ca=str(folder / "ca.pem"),
    ) as fake:
        yield fake


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
