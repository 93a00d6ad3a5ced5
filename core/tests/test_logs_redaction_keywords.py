"""The redaction's keyword pre-check (which skips patterns a line cannot match) misses no
secret, whatever its case and wherever it sits in an access line."""

from __future__ import annotations

import logging

import pytest

from pcm_ops.logs import MASK, RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PASSWORD=hunter2hunter2", f"PASSWORD={MASK}"),
        ("Passwd: 'hunter2hunter2'", f"Passwd: '{MASK}'"),
        ("Session_Token=abcdefgh", f"Session_Token={MASK}"),
        ("API_KEY=abcdefgh", f"API_KEY={MASK}"),
        ("AUTHORIZATION: Bearer abcdefgh", f"AUTHORIZATION: {MASK}"),
        ("key pcm_abcdefghijklmnopqrstuvwxyz", f"key {MASK}"),
        ("nothing secret here: GET /healthz 200", "nothing secret here: GET /healthz 200"),
    ],
)
def test_redact_masks_secrets_of_any_case(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_an_access_line_with_a_token_in_its_query_is_masked() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/x?Token=abcdefgh&page=2", "1.1", 200),
        None,
    )
    RedactingFilter().filter(record)
    message = record.getMessage()
    assert "abcdefgh" not in message
    assert message.startswith(f'127.0.0.1:5000 - "GET /api/x?Token={MASK}')
