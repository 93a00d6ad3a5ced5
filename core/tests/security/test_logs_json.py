"""``PCM_LOG_FORMAT=json``: one JSON object per line, with where the record comes from
(request id, user, plugin, execution id, job id), secrets redacted in messages and in
tracebacks; and the text format, the default, as before."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from pcm_ops.logs import (
    JsonFormatter,
    RedactingFilter,
    log_context,
    uvicorn_log_config,
)
from pcm_ops.settings import load_settings

CREDENTIAL = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO, Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger("pcm_ops.test.json_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream, handler


@pytest.fixture
def json_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger, stream, handler = capture(JsonFormatter())
    yield logger, stream
    logger.removeHandler(handler)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_each_record_is_one_json_object_with_time_level_logger_and_message(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines
    logger.info("synced %d instances\nin two lines", 3)
    logger.warning("second")

    first, second = parsed(stream)
    assert first["message"] == "synced 3 instances\nin two lines"
    assert first["level"] == "info"
    assert first["logger"] == "pcm_ops.test.json_logs"
    assert first["time"].endswith("+00:00")
    assert second["level"] == "warning"
    assert "request_id" not in first


def test_the_context_fields_are_added_where_known(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines
    with log_context(request_id="r-1", user="alice", plugin="aws-script-runner"):
        with log_context(execution_id=42):
            logger.info("inside")
        logger.info("outside the execution")
    logger.info("after")

    inside, outside, after = parsed(stream)
    assert inside | {"time": None} == {
        "time": None,
        "level": "info",
        "logger": "pcm_ops.test.json_logs",
        "message": "inside",
        "request_id": "r-1",
        "user": "alice",
        "plugin": "aws-script-runner",
        "execution_id": 42,
    }
    assert "execution_id" not in outside
    assert outside["user"] == "alice"
    assert set(after) == {"time", "level", "logger", "message"}


def test_a_credential_in_a_message_or_an_exception_is_redacted(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines
    logger.info("calling with secret_access_key=%s", CREDENTIAL)
    try:
        raise RuntimeError(f"AWS refused password={CREDENTIAL}")
    except RuntimeError:
        logger.exception("the call failed with %s", CREDENTIAL)

    message, failure = parsed(stream)
    assert CREDENTIAL not in stream.getvalue()
    assert "[REDACTED]" in message["message"]
    assert "[REDACTED]" in failure["message"]
    assert "RuntimeError: AWS refused password=[REDACTED]" in failure["exception"]


def test_text_is_the_default_and_its_tracebacks_are_redacted_too() -> None:
    assert load_settings().log_format == "text"
    logger, stream, handler = capture(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    try:
        try:
            raise RuntimeError(f"token={CREDENTIAL}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert text.startswith("ERROR pcm_ops.test.json_logs: failed\nTraceback")
    assert CREDENTIAL not in text
    assert "RuntimeError: token=[REDACTED]" in text


def test_uvicorn_writes_json_only_when_asked() -> None:
    from uvicorn.config import LOGGING_CONFIG

    text = uvicorn_log_config()
    assert text["formatters"] == LOGGING_CONFIG["formatters"]
    assert "root" not in text
    as_json = uvicorn_log_config("json")
    assert {f["()"] for f in as_json["formatters"].values()} == {"pcm_ops.logs.JsonFormatter"}
    assert as_json["root"]["handlers"] == ["default"]
    assert all(handler["filters"] == ["redact"] for handler in as_json["handlers"].values())


def test_an_unknown_log_format_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pcm_ops.errors import ConfigError

    monkeypatch.setenv("PCM_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="log_format"):
        load_settings()
    monkeypatch.setenv("PCM_LOG_FORMAT", "json")
    assert load_settings().log_format == "json"


async def test_a_request_logs_its_id_and_user(
    platform: Any, json_lines: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = json_lines

    async def probe() -> dict[str, str]:
        logger.info("handling the probe")
        return {"ok": "yes"}

    platform.app.add_api_route("/api/log-probe", probe, methods=["GET"])
    headers = {**platform.auth("vera"), "X-Request-ID": "req-from-the-proxy"}
    answered = await platform.client.get("/api/log-probe", headers=headers)
    fresh = await platform.client.get("/api/log-probe", headers=platform.auth("alice"))

    assert answered.status_code == 200, answered.text
    assert answered.headers["x-request-id"] == "req-from-the-proxy"
    first, second = parsed(stream)
    assert first["request_id"] == "req-from-the-proxy"
    assert first["user"] == "vera"
    assert second["user"] == "alice"
    assert second["request_id"] == fresh.headers["x-request-id"]
    assert len(second["request_id"]) == 32
    token = platform.auth("alice")["Authorization"].removeprefix("Bearer ")
    assert token not in stream.getvalue()
