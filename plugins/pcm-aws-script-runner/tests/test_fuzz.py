"""Schemathesis against the whole application: every operation of core, aws-common and the
script runner, as an admin, over real HTTP, on each database backend.

The script runner depends on aws-common, so its suite is where the whole platform is
installed: this is the one test that fuzzes all of the API at once. The application runs as
``pcm-ops serve`` runs it (its lifespan, the job engine, aws-common pointed at the session's
moto server, uvicorn with the redacting log configuration and access logs on), and
schemathesis sends its requests from a thread over one keep-alive connection.

Each operation gets up to ``PCM_FUZZ_EXAMPLES`` (default 6) requests that fit its schema
and up to as many that do not (ids past their range, wrong types...), derandomized, so that
a run is the same every time and stays within about a minute per backend on a small
machine. What must hold for every response: no 5xx, a body
that conforms to the schema the route declares, and no request refused for want of
credentials (every one carries an admin's token). Nothing uvicorn logs may fail to format.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import pytest

EXAMPLES = int(os.environ.get("PCM_FUZZ_EXAMPLES", "6"))

# Schemathesis' own strategies use `random`; that is its business, not this suite's.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

LOGIN = ("POST", "/api/auth/login")  # answers 401 to the credentials it is sent, rightly
#: Operations left out, with the reason: they would end the fuzzer's own credentials.
SKIPPED = {
    ("POST", "/api/auth/logout"): "ends the session the request came with",
    ("DELETE", "/api/auth/tokens/{token_id}"): "would revoke the fuzzer's own token",
}


@pytest.fixture
def pcm_plugins() -> list[str]:
    return ["aws-common", "aws-script-runner"]


@pytest.fixture
def pcm_settings(moto_pcm_settings: Any) -> Any:
    return moto_pcm_settings


@pytest.fixture
async def admin_headers(
    pcm_settings: Any,
    pcm_registry: Any,
    pcm_migrated_database: Any,
    pcm_auth_headers: Callable[..., Awaitable[dict[str, str]]],
) -> dict[str, str]:
    """An admin's token on the migrated database, aws-common's partitions seeded."""
    from pcm_ops.db.seeds import run_seeds

    await run_seeds(pcm_settings, pcm_registry, pcm_migrated_database)
    return await pcm_auth_headers("admin")


@pytest.fixture
def logging_errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What any logging handler failed to emit while the test ran (logging itself only
    prints such errors to stderr)."""
    import sys
    import traceback

    failures: list[str] = []

    def record(self: logging.Handler, record: logging.LogRecord) -> None:
        failures.append("".join(traceback.format_exception(*sys.exc_info())))

    monkeypatch.setattr(logging.Handler, "handleError", record)
    return failures


def fuzz(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    """Run every operation of the schema; what was exercised and answered."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: Counter[int] = Counter()
    unauthorized: list[str] = []
    exercised: list[str] = []
    session = requests.Session()  # one keep-alive connection, as a client would keep it
    for operation in operations:
        key = (operation.method.upper(), operation.path)
        if key in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )
            def check(case: Any) -> None:
                response = case.call_and_validate(
                    base_url=base_url,
                    session=session,
                    headers=headers,
                    checks=[not_a_server_error, response_schema_conformance],
                    timeout=30,
                )
                statuses[response.status_code] += 1
                sent = (case.operation.method.upper(), case.operation.path)
                if response.status_code == 401 and sent != LOGIN:
                    unauthorized.append(f"{sent[0]} {sent[1]}")

            try:
                check()
            except Unsatisfiable:
                # Nothing of the request can break its schema (an operation without
                # parameters or body): there is no negative case to send.
                assert mode is GenerationMode.NEGATIVE
        exercised.append(f"{key[0]} {key[1]}")
    session.close()
    return {
        "operations": operations,
        "exercised": exercised,
        "statuses": statuses,
        "unauthorized": unauthorized,
    }


async def test_fuzzing_every_operation_of_the_platform_finds_no_server_error(
    admin_headers: dict[str, str],
    pcm_running_app: Any,
    logging_errors: list[str],
) -> None:
    from pcm_ops.logs import uvicorn_log_config
    from pcm_ops.testing import serve

    started = time.monotonic()
    # Logged as `pcm-ops serve` logs, access lines included: they carry what the fuzzer sent.
    options = {"log_config": uvicorn_log_config(), "log_level": "info", "access_log": True}
    async with serve(pcm_running_app, **options) as url:
        result = await anyio.to_thread.run_sync(fuzz, url, admin_headers)
    elapsed = time.monotonic() - started

    paths = {operation.path for operation in result["operations"]}
    # Core's, aws-common's and the script runner's operations were all in the schema.
    assert any(path.startswith("/api/auth/") for path in paths)
    assert any(path.startswith("/api/tools/aws/common/") for path in paths)
    assert any(path.startswith("/api/tools/aws/script-runner/") for path in paths)
    assert len(result["exercised"]) == len(result["operations"]) - len(SKIPPED)
    statuses = result["statuses"]
    assert not [code for code in statuses if code >= 500], statuses
    assert not result["unauthorized"]  # the admin's token held for every request
    assert not logging_errors, logging_errors[0]
    print(
        f"fuzzed {len(result['exercised'])} operations, {sum(statuses.values())} requests "
        f"in {elapsed:.1f} s: {dict(sorted(statuses.items()))}"
    )
