"""The ``pcm_servicenow_cmdb`` pytest plugin: a fake ServiceNow for tests.

pytest loads this module by itself where ``pcm-servicenow-cmdb`` is installed (entry point
``pytest11``). Only pytest and the standard library are imported here; the fake (Starlette,
uvicorn) is imported when a fixture is first used.

``servicenow_fake`` (session)
    A running :class:`~pcm_servicenow_cmdb.testing.fake.FakeServiceNow`, started once per
    test session (once per worker under xdist) and stopped at its end.
``servicenow``
    The same fake for one test, reset before and after it: no records but the default
    integration user, no OAuth clients or API keys, no latency, failures, outage, hidden or
    forbidden records, an empty request log.
``servicenow_settings``
    :class:`~pcm_servicenow_cmdb.client.ConnectionSettings` for the fake with basic
    authentication as the default integration user (connection name ``fake``)::

        async def test_reads_changes(servicenow, servicenow_settings):
            servicenow.add("change_request", short_description="Patch")
            async with ServiceNowClient(servicenow_settings) as client:
                assert len(await client.records("change_request")) == 1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pcm_servicenow_cmdb.client import ConnectionSettings
    from pcm_servicenow_cmdb.testing.fake import FakeServiceNow


@pytest.fixture(scope="session")
def servicenow_fake() -> Iterator[FakeServiceNow]:
    """The fake ServiceNow of this test session, running on 127.0.0.1."""
    from pcm_servicenow_cmdb.testing.fake import FakeServiceNow

    with FakeServiceNow() as fake:
        yield fake


@pytest.fixture
def servicenow(servicenow_fake: FakeServiceNow) -> Iterator[FakeServiceNow]:
    """The session's fake ServiceNow, fresh for this test."""
    servicenow_fake.reset()
    try:
        yield servicenow_fake
    finally:
        servicenow_fake.reset()


@pytest.fixture
def servicenow_settings(servicenow: FakeServiceNow) -> ConnectionSettings:
    """Basic-authentication settings for the fake's default integration user."""
    from pcm_servicenow_cmdb.client import ConnectionSettings
    from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

    return ConnectionSettings(
        name="fake",
        base_url=servicenow.url,
        auth_kind="basic",
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
        timeout_seconds=5.0,
    )
