"""Logging set-up, with secrets redacted from every record.

:class:`RedactingFilter` masks API tokens (``pcm_…``), ``Authorization`` headers, values of
``password=``/``secret=``/``token=``-like pairs, AWS secret access keys, and any value a
component registered with :func:`register_secret` (for example a decrypted credential that
must be passed to a library that may log it).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "[REDACTED]"

_PATTERNS = [
    re.compile(r"pcm_[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(bearer\s+)?[^\s\"',;]+"),
    re.compile(
        r"(?i)((?:password|passwd|secret|secret_access_key|session_token|api_key|token)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"
    ),
    re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),  # AWS secret keys
]

_lock = threading.Lock()
_registered: set[str] = set()


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in a log message from now on (values of 8+ chars)."""
    if len(value) >= 8:
        with _lock:
            _registered.add(value)


def redact(text: str) -> str:
    """``text`` with every known kind of secret replaced by ``[REDACTED]``."""
    for value in tuple(_registered):
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: (m.group(1) or "") + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (arguments merged in) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction(*loggers: Any) -> None:
    """Add the filter to the handlers of the root logger (and of ``loggers``)."""
    targets = [logging.getLogger(), *(logging.getLogger(name) for name in loggers)]
    for logger in targets:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
