"""Secrets never reach the logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pcm_ops.logs import RedactingFilter, redact, register_secret


@pytest.mark.parametrize(
    "line",
    [
        "password=hunter2hunter2",
        "Authorization: Bearer pcm_abcdefghijklmnopqrstuvwxyz",
        "token pcm_abcdefghijklmnopqrstuvwxyz0123",
        "aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end",
        '{"secret_access_key": "abc123secretvalue"}',
    ],
)
def test_known_secret_shapes_are_masked(line: str) -> None:
    cleaned = redact(line)
    assert "[REDACTED]" in cleaned
    for secret in (
        "hunter2hunter2",
        "pcm_abcdefghijklmnopqrstuvwxyz",
        "wJalrXUtnFEMI",
        "abc123secretvalue",
    ):
        assert secret not in cleaned


def test_registered_values_are_masked_in_records(caplog: Any) -> None:
    register_secret("my-decrypted-credential")
    logger = logging.getLogger("pcm_ops.test.redaction")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="pcm_ops.test.redaction"):
        logger.info("connecting with %s now", "my-decrypted-credential")
    assert "my-decrypted-credential" not in caplog.text
    assert "connecting with [REDACTED] now" in caplog.text


def test_ordinary_text_is_left_alone() -> None:
    line = "GET /api/plugins 200 in 3.2 ms for alice"
    assert redact(line) == line


def _access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it: five arguments its formatter unpacks."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", path, "1.1", 404),
        None,
    )


def test_an_access_log_line_with_a_secret_is_masked_and_still_formatted() -> None:
    from uvicorn.logging import AccessFormatter

    record = _access_record("/api/things?token=hunter2hunter2&page=1")
    assert RedactingFilter().filter(record)
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert "hunter2hunter2" not in line
    assert "token=[REDACTED]" in line
    assert "404" in line
    assert isinstance(record.args, tuple)
    assert len(record.args) == 5


def test_a_secret_split_between_format_and_argument_is_still_masked() -> None:
    record = logging.LogRecord(
        "pcm_ops.test", logging.INFO, __file__, 1, "password=%s", ("hunter2hunter2",), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "password=[REDACTED]"


def test_mapping_arguments_keep_their_shape() -> None:
    record = logging.LogRecord(
        "pcm_ops.test",
        logging.INFO,
        __file__,
        1,
        "calling %(url)s",
        ({"url": "https://x.test/?secret=abcdefgh12"},),
        None,
    )
    RedactingFilter().filter(record)
    assert isinstance(record.args, dict)
    assert record.getMessage() == "calling https://x.test/?secret=[REDACTED]"
