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
from collections.abc import Mapping
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

#: For each pattern, words one of which a text must hold (lower-cased) for the pattern to
#: match. Most log lines, such as uvicorn's access lines, hold none: a substring test is
#: far cheaper than a case-insensitive regular expression tried at every position.
_KEYWORDS: list[tuple[str, ...] | None] = [
    ("pcm_",),
    ("authorization",),
    ("passw", "secret", "token", "api_key"),
    None,  # AWS secret keys have no marker
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
    lowered = text.lower()
    for pattern, keywords in zip(_PATTERNS, _KEYWORDS, strict=True):
        if keywords is not None and not any(word in lowered for word in keywords):
            continue
        if pattern.groups:
            text = pattern.sub(lambda m: (m.group(1) or "") + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


def _redacted_args(args: Any) -> Any:
    """``args`` with every string among them redacted, in the same shape (tuple or mapping)."""
    if isinstance(args, Mapping):
        return {key: redact(v) if isinstance(v, str) else v for key, v in args.items()}
    return tuple(redact(v) if isinstance(v, str) else v for v in args)


class RedactingFilter(logging.Filter):
    """Masks the secrets in each record's message.

    The arguments are redacted where they are, keeping the record's shape: formatters may
    read ``record.args`` themselves (uvicorn's access log unpacks its five arguments, and a
    record with ``args = None`` made it raise ``TypeError: cannot unpack non-iterable
    NoneType object``). Only when that is not enough (a secret spanning the format string
    and an argument, or inside an argument that is not a string) is the message merged and
    the arguments dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            self._mask(record, cleaned)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True

    @staticmethod
    def _mask(record: logging.LogRecord, cleaned: str) -> None:
        if record.args:
            original = record.args
            record.args = _redacted_args(original)
            try:
                masked = record.getMessage()
            except Exception:
                masked = None
            if masked is not None and redact(masked) == masked:
                return
            record.args = original
        record.msg = cleaned
        record.args = None


def install_redaction(*loggers: Any) -> None:
    """Add the filter to the handlers of the root logger (and of ``loggers``)."""
    targets = [logging.getLogger(), *(logging.getLogger(name) for name in loggers)]
    for logger in targets:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with :class:`RedactingFilter` on every handler:
    what ``pcm-ops serve`` runs with (pass it as ``uvicorn.Config(log_config=...)``)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG}
    config["filters"] = {"redact": {"()": f"{__name__}.RedactingFilter"}}
    config["handlers"] = {
        name: {**handler, "filters": ["redact"]}
        for name, handler in LOGGING_CONFIG["handlers"].items()
    }
    return config
