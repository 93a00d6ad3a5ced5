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
