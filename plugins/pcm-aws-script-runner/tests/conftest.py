"""Fixtures shared by the whole suite, which mirrors the package (``api/``, ``web/``,
``cli/``, ``services/``, ``jobs/``, ...).

Every test loads the script runner and no other installed plugin: the script runner does not
need aws-common for its library, so most tests leave it out and stay fast and independent of
that plugin's state. A test module that works on a fleet in the fake AWS (executions, the
inventory) names both plugins with core's marker,
``pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")``, or with a
``pcm_plugins`` fixture of its own; whenever aws-common is loaded, :func:`pcm_settings`
points it at the session's moto server and makes executions and the job engine quick.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcm_ops.discovery import ENTRY_POINT_GROUP
from pcm_ops.testing.fixtures import async_fixture

PLUGIN = "aws-script-runner"
API = "/api/tools/aws/script-runner"
PAGES = "/tools/aws/script-runner"
TEST_PLUGINS = "pcm_sr_test_plugins"

SHELL_SCRIPT = {
    "name": "restart-nginx",
    "description": "Restart nginx and show its status",
    "language": "shell",
    "body": "#!/bin/bash\nset -euo pipefail\nsystemctl restart nginx\n",
    "parameters": [
        {"name": "service", "type": "string", "default": "nginx", "required": True},
        {"name": "mode", "type": "choice", "choices": ["soft", "hard"], "default": "soft"},
        {"name": "api_token", "type": "string", "secret": True},
    ],
    "tags": ["Linux", "web"],
    "comment": "first cut",
}


#: Settings that make executions and the job engine quick in tests.
FAST = {
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.05",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.2",
}
FAST_JOBS = {
    "jobs_queue_poll_seconds": 0.05,
    "jobs_heartbeat_seconds": 0.5,
    "jobs_event_poll_seconds": 0.1,
}


@pytest.fixture
def pcm_plugins():
    return [PLUGIN]


@pytest.fixture
def pcm_settings(
    request: pytest.FixtureRequest,
    make_pcm_settings: Callable[..., Any],
    pcm_plugins: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Core's settings for the test; when it loads aws-common (by marker or fixture), with
    aws-common pointed at the session's moto server and quick polls and jobs."""
    marker = request.node.get_closest_marker("pcm_plugins")
    chosen = marker.args if marker is not None else pcm_plugins
    if "aws-common" not in {getattr(spec, "name", spec) for spec in chosen}:
        return make_pcm_settings()
    moto_aws = request.getfixturevalue("moto_aws")
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    return make_pcm_settings(**FAST_JOBS)


@pytest.fixture(autouse=True)
def _cheap_passwords(pcm_cheap_passwords: None) -> None:
    """Every test here hashes passwords with Argon2's cheapest parameters (core's fixture)."""


@pytest.fixture
def seeded(aws_sr_seeded_database: Any) -> Any:
    """The migrated database with every loaded plugin's seeds run."""
    return aws_sr_seeded_database


@pytest.fixture
def make_fleet(aws_sr_fleet: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``await make_fleet(us_east_1=3, ...)``: the shipped ``aws_sr_fleet`` fixture (a new
    account in the fake AWS with running instances, registered in aws-common and in the
    inventory; see :class:`pcm_aws_script_runner.testing.Fleet`)."""
    return aws_sr_fleet


def state_per_request(app: Any) -> Any:
    """``app``, except that every request gets its own copy of the lifespan state, as
    uvicorn gives it.

    asgi-lifespan 2.1 hands every request the *same* ``scope["state"]`` dict, and core keeps
    the authenticated principal (and flash messages) in ``request.state``: with core's
    ``pcm_running_app`` (and ``pcm_ops.testing.app_client``), a request without credentials
    that follows an admin's request is served as that admin, and the permission tests here
    would pass for the wrong reason. Remove this once ``pcm_ops.testing`` copies the state
    per request itself.
    """

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan" and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return wrapped


@async_fixture
async def pcm_running_app(pcm_app: Any) -> Any:
    """Core's ``pcm_running_app`` with :func:`state_per_request`."""
    from asgi_lifespan import LifespanManager

    async with LifespanManager(
        state_per_request(pcm_app), startup_timeout=60, shutdown_timeout=60
    ) as manager:
        yield manager.app


@asynccontextmanager
async def _running_client(app: Any, headers: dict[str, str] | None = None) -> Any:
    """``pcm_ops.testing.app_client`` with :func:`state_per_request`."""
    from asgi_lifespan import LifespanManager

    async with LifespanManager(
        state_per_request(app), startup_timeout=60, shutdown_timeout=60
    ) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            yield client


@pytest.fixture
def running_client() -> Callable[..., Any]:
    """``async with running_client(app, headers) as client``: a client for an application
    the test built itself (with ``make_pcm_app``), its lifespan running."""
    return _running_client


@pytest.fixture
def script_payload() -> dict[str, Any]:
    """A valid ``POST /scripts`` body (a fresh copy per test)."""
    import copy

    return copy.deepcopy(SHELL_SCRIPT)


@pytest.fixture
def hook_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., list[EntryPoint]]]:
    """Entry points for the small plugins of ``tests/pcm_sr_test_plugins`` that implement the
    script runner's hooks: ``hook_plugins("check_passes", "check_raises")``. The package is
    importable for the test only, as core's own test plugins are."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))

    def forget() -> None:
        for name in [m for m in sys.modules if m.split(".")[0] == TEST_PLUGINS]:
            del sys.modules[name]

    forget()

    def make(*modules: str) -> list[EntryPoint]:
        return [
            EntryPoint(f"sr-{m.replace('_', '-')}", f"{TEST_PLUGINS}.{m}", ENTRY_POINT_GROUP)
            for m in modules
        ]

    yield make
    forget()


@pytest.fixture
async def create_script(
    pcm_admin_client: httpx.AsyncClient, script_payload: dict[str, Any]
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """``await create_script(name=..., **overrides)``: add a script as an admin; its JSON."""

    async def make(**overrides: Any) -> dict[str, Any]:
        response = await pcm_admin_client.post(
            f"{API}/scripts", json={**script_payload, **overrides}
        )
        assert response.status_code == 201, response.text
        return response.json()

    return make
