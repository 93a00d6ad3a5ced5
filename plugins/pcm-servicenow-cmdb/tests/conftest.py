"""Every test here loads the ServiceNow plugin (and no other installed plugin unless a test
module says so); the fake ServiceNow comes from ``pcm_servicenow_cmdb.testing``."""

from __future__ import annotations

import datetime
import ipaddress

import pytest


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["servicenow-cmdb"]


@pytest.fixture(autouse=True)
def _cheap_passwords(pcm_cheap_passwords: None) -> None:
    """Every test here hashes passwords with Argon2's cheapest parameters (core's fixture)."""


@pytest.fixture
async def connected(pcm_admin_client, servicenow):
    """The fake ServiceNow, added as connection ``acme`` (basic authentication) through the
    API, as an admin does it."""
    from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

    created = await pcm_admin_client.post(
        "/api/tools/servicenow/cmdb/connections",
        json={
            "name": "acme",
            "base_url": servicenow.url,
            "auth_kind": "basic",
            "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    return servicenow


def issue(name, issuer=None, *, ca=False, ip=None):
    """(certificate PEM, key PEM, certificate, key), signed by ``issuer`` or by itself."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

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


@pytest.fixture(scope="session")
def pki():
    """A test CA, a server certificate for 127.0.0.1 and a client certificate it signed,
    and a self-signed stranger: each (certificate PEM, key PEM, certificate, key)."""
    ca = issue("Test CA", ca=True)
    return {
        "ca": ca,
        "server": issue("127.0.0.1", ca, ip="127.0.0.1"),
        "client": issue("pcm-ops", ca),
        "stranger": issue("stranger"),
    }


@pytest.fixture(scope="session")
def https_fake(pki, tmp_path_factory):
    """A fake ServiceNow over HTTPS that requires a client certificate signed by the CA."""
    from pcm_servicenow_cmdb.testing.fake import FakeServiceNow

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
