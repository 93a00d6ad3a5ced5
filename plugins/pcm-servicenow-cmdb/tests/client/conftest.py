import asyncio
import dataclasses

import pytest

from pcm_servicenow_cmdb.client import ServiceNowClient


class RecordedSleep:
    """A ``sleep`` for the client that records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def connect(servicenow_settings, sleep):
    """``connect(**settings)``: a client for the fake (basic auth as the default user unless
    overridden) whose waits are recorded in ``sleep.waits`` instead of slept."""

    def connect(*, real_sleep: bool = False, **overrides) -> ServiceNowClient:
        settings = dataclasses.replace(servicenow_settings, **overrides)
        if real_sleep:
            return ServiceNowClient(settings)
        return ServiceNowClient(settings, sleep=sleep)

    return connect


@pytest.fixture
def oauth_client(servicenow):
    servicenow.add_oauth_client("pcm-ops", "client-secret-7f3a")
    return {
        "auth_kind": "oauth_client_credentials",
        "client_id": "pcm-ops",
        "client_secret": "client-secret-7f3a",
        "username": "",
        "password": "",
    }
