from collections.abc import Iterator

import httpx
import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME


@pytest.fixture(scope="session")
def session_api(servicenow_fake) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=servicenow_fake.url, auth=(DEFAULT_USERNAME, DEFAULT_PASSWORD), timeout=5
    ) as client:
        yield client


@pytest.fixture
def api(servicenow, session_api) -> httpx.Client:
    """A plain HTTP client for the fake, as the default integration user."""
    return session_api


@pytest.fixture
def changes(servicenow) -> dict[str, str]:
    """Four changes, by name: their sys_ids."""
    group = servicenow.add("sys_user_group", name="Linux Ops")
    return {
        "implement": servicenow.add(
            "change_request",
            number="CHG0000001",
            short_description="Patch the kernel on web servers",
            type="normal",
            state=-1,
            approval="approved",
            start_date="2026-12-05 08:00:00",
            end_date="2026-12-05 18:00:00",
            assignment_group=group,
            on_hold=False,
        ),
        "assess": servicenow.add(
            "change_request",
            number="CHG0000002",
            short_description="Upgrade the database",
            type="normal",
            state=-4,
            approval="requested",
            start_date="2026-12-10 08:00:00",
            end_date="2026-12-10 10:00:00",
        ),
        "closed": servicenow.add(
            "change_request",
            number="CHG0000003",
            short_description="Rotate web certificates",
            type="standard",
            state=3,
            approval="approved",
            start_date="2026-11-01 08:00:00",
            end_date="2026-11-01 09:00:00",
        ),
        "canceled": servicenow.add(
            "change_request",
            number="CHG0000004",
            short_description="Retire the old Web proxy",
            type="emergency",
            state=4,
            approval="rejected",
            start_date="2026-12-01 00:00:00",
            end_date="2026-12-02 00:00:00",
        ),
    }
