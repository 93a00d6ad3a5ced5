"""What an on-call engineer sees of an execution against moto over HTTP: its metrics on
``/metrics`` (finished by status, duration, none in flight, the AWS calls it made) with no
id in any label, and JSON log lines that carry its execution id and job id, never a
secret parameter."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pcm_ops.logs import JsonFormatter, RedactingFilter

pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")
SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def scrape(fleet: Any) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    response = await fleet.client.get("/metrics")
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """What the plugins log at INFO and above, as ``PCM_LOG_FORMAT=json`` writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("pcm_aws_script_runner", "pcm_aws_common")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield stream
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@SQLITE_ONLY
async def test_an_execution_is_counted_and_its_log_lines_carry_its_ids(
    make_fleet: Any, json_logs: io.StringIO
) -> None:
    fleet = await make_fleet(us_east_1=3)
    _, before = await scrape(fleet)

    execution = await fleet.start(parameters={"who": "ops", "token": "s3cr3t-parameter"})
    done = await fleet.wait(execution["id"])
    assert done["status"] == "succeeded", done

    text, after = await scrape(fleet)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("pcm_aws_sr_executions_finished_total", status="succeeded") == 1
    assert grew("pcm_aws_sr_execution_duration_seconds_count", status="succeeded") == 1
    assert after[("pcm_aws_sr_executions", (("status", "running"),))] == 0
    assert after[("pcm_aws_sr_batches_in_flight", ())] == 0
    sent = grew(
        "pcm_aws_api_calls_total",
        service="ssm",
        operation="SendCommand",
        account=fleet.account_id,
        region="us-east-1",
        outcome="ok",
    )
    assert sent == 1
    for instance in fleet.instances["us-east-1"]:
        assert instance not in text
    assert "s3cr3t-parameter" not in text
    label_names = {name for _, labels in after for name, _ in labels}
    assert not label_names & {"execution_id", "instance_id", "job_id", "command_id", "user"}

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    mine = [line for line in lines if line.get("execution_id") == execution["id"]]
    assert mine, lines
    finished = [line for line in mine if line["message"].endswith("succeeded")]
    assert finished, mine
    entry = finished[0]
    assert entry["logger"] == "pcm_aws_script_runner.executions"
    assert entry["level"] == "info"
    assert entry["job_id"].startswith("aws-script-runner:")
    assert entry["plugin"] == "aws-script-runner"
    assert "s3cr3t-parameter" not in json_logs.getvalue()
