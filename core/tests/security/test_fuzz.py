"""Schemathesis against the app's own OpenAPI schema, authenticated, over real HTTP.

Every operation gets a bounded number of generated requests (``PCM_FUZZ_EXAMPLES``, default
15) so that CI stays fast. Two properties must hold for every response: no 5xx, and the
response conforms to the schema the route declares.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

EXAMPLES = int(os.environ.get("PCM_FUZZ_EXAMPLES", "15"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(platform: Any) -> Iterator[str]:
    """The platform's app served by uvicorn on a free loopback port."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            platform.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_fuzzing_the_api_finds_no_server_error_and_no_schema_violation(
    platform: Any, served: str
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    headers = platform.auth("alice")
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10  # core's and the test plugin's operations were found

    exercised = []
    for operation in operations:
        # Logging out or revoking would end the fuzzer's own credentials mid-run; those
        # routes are covered by their own tests.
        if operation.path in ("/api/auth/logout",) or operation.method.upper() == "DELETE":
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=served,
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
            )

        check()
        exercised.append(f"{operation.method.upper()} {operation.path}")
    assert len(exercised) >= 8
