"""Every test here loads the ServiceNow plugin (and no other installed plugin unless a test
module says so); the fake ServiceNow comes from ``pcm_servicenow_cmdb.testing``."""

from __future__ import annotations

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
