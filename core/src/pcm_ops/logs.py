"""Logging set-up, with secrets redacted from every record, as text or as JSON lines.

:class:`RedactingFilter` masks API tokens (``pcm_…``), ``Authorization`` headers, values of
``password=``/``secret=``/``token=``-like pairs, AWS secret access keys, and any value a
component registered with :func:`register_secret` (for example a decrypted credential that
must be passed to a library that may log it), in messages and in exception tracebacks.

With ``PCM_LOG_FORMAT=json`` every record is one JSON object per line
(:class:`JsonFormatter`): ``time``, ``level``, ``logger``, ``message``, ``exception`` when
there is one, and what is known of where it was logged from: ``request_id``, ``user``,
``plugin``, ``execution_id``, ``job_id``. Core sets the request's fields
(``pcm_ops.middleware.CoreMiddleware``) and the job id (inside a job); a plugin adds
its own with :func:`log_context`::

    from pcm_ops.logs import log_context

    with log_context(execution_id=42):
        logger.info("sending batch 1")   # {"execution_id": 42, "job_id": "...", ...}
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, Literal

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

#: Any of those words: one search tells that a text (an access line, say) holds none.
_ANY_KEYWORD = re.compile("|".join(re.escape(w) for words in _KEYWORDS if words for w in words))

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
    marked = _ANY_KEYWORD.search(lowered) is not None
    for pattern, keywords in zip(_PATTERNS, _KEYWORDS, strict=True):
        if keywords is not None and not (marked and any(word in lowered for word in keywords)):
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
        if record.exc_info and not record.exc_text:
            # Formatters format the traceback after the filters ran, and reuse exc_text:
            # format it now, so that what they print is the redacted text.
            record.exc_text = _FORMATTER.formatException(record.exc_info)
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


_FORMATTER = logging.Formatter()

# -------------------------------------------------------------------------------------------
# Where a record comes from
# -------------------------------------------------------------------------------------------

#: The fields :class:`JsonFormatter` adds when they are known, in this order.
CONTEXT_FIELDS = ("request_id", "user", "plugin", "execution_id", "job_id")

_context: ContextVar[dict[str, Any] | None] = ContextVar("pcm_ops_log_context", default=None)


def log_context(**fields: Any) -> AbstractContextManager[None]:
    """Add ``fields`` (``execution_id=42``, ``plugin="aws-common"``) to every record logged
    in this block, in this task and the tasks and threads it starts; ``None`` values are
    left out. Blocks nest; an inner block's value wins."""
    return _LogContext({key: value for key, value in fields.items() if value is not None})


class _LogContext(AbstractContextManager[None]):
    # A class rather than a @contextmanager generator: every HTTP request enters one, and
    # this costs a third as much.
    __slots__ = ("added", "token")

    def __init__(self, added: dict[str, Any]) -> None:
        self.added = added
        self.token: Token[dict[str, Any] | None] | None = None

    def __enter__(self) -> None:
        self.token = _context.set({**(_context.get() or {}), **self.added})

    def __exit__(self, *exc_info: object) -> None:
        assert self.token is not None
        _context.reset(self.token)


def bind_log_context(**fields: Any) -> None:
    """Add ``fields`` to the log context of the current task from now on (what a request's
    authentication does once it knows the user); ``None`` values are left out."""
    added = {key: value for key, value in fields.items() if value is not None}
    if added:
        _context.set({**(_context.get() or {}), **added})


def current_log_context() -> dict[str, Any]:
    """The fields known where this is called, the job id included inside a job."""
    fields = dict(_context.get() or {})
    if "job_id" not in fields and "dbos" in sys.modules:
        from dbos import DBOS

        try:
            job_id = DBOS.workflow_id
        except Exception:  # not in a job, or DBOS not set up
            job_id = None
        if job_id:
            fields["job_id"] = job_id
            if "plugin" not in fields:
                from pcm_ops.jobs.names import owner_of

                owner = owner_of(job_id)
                if owner is not None and owner != "core":
                    fields["plugin"] = owner
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module's description)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(message),
        }
        context = current_log_context()
        for name in CONTEXT_FIELDS:
            if name in context:
                value = context[name]
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


LogFormat = Literal["text", "json"]


def use_log_format(log_format: str) -> None:
    """Write the root logger's records in ``log_format``: ``json`` puts a
    :class:`JsonFormatter` on each of its handlers; ``text`` leaves them as they are. What
    ``pcm-ops worker`` does with ``PCM_LOG_FORMAT``; ``pcm-ops serve`` passes it to
    :func:`uvicorn_log_config` instead."""
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    install_redaction()


class PrefixOwners:
    """Which plugin a request path belongs to, from ``{prefix: plugin id}`` (the plugins'
    API and page prefixes); the longest matching prefix wins."""

    def __init__(self, prefixes: Mapping[str, str] | None = None) -> None:
        self.prefixes = sorted((prefixes or {}).items(), key=lambda item: -len(item[0]))

    def of(self, path: str) -> str | None:
        for prefix, owner in self.prefixes:
            if path.startswith(prefix):
                return owner
        return None


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_of(scope: Any) -> str:
    """The request's id: the client's ``X-Request-ID`` when it is short and printable
    (letters, digits, ``._:-``, at most 64), else a new random one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _REQUEST_ID.match(text):
                return text
            break
    return _new_request_id()


def _new_request_id() -> str:
    """A random version 4 UUID in hex: what ``uuid.uuid4().hex`` gives, for a quarter of
    its cost (no ``UUID`` object), as every request without an id of its own needs one."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


def install_redaction(*loggers: Any) -> None:
    """Add the filter to the handlers of the root logger (and of ``loggers``)."""
    targets = [logging.getLogger(), *(logging.getLogger(name) for name in loggers)]
    for logger in targets:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


def uvicorn_log_config(log_format: str = "text") -> dict[str, Any]:
    """uvicorn's own logging configuration with :class:`RedactingFilter` on every handler:
    what ``pcm-ops serve`` runs with (pass it as ``uvicorn.Config(log_config=...)``).

    :param log_format: ``json`` makes every handler write :class:`JsonFormatter` lines, and
        sends the records of every other logger (``pcm_ops``, plugins, DBOS) through them.
    """
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG}
    config["filters"] = {"redact": {"()": f"{__name__}.RedactingFilter"}}
    config["handlers"] = {
        name: {**handler, "filters": ["redact"]}
        for name, handler in LOGGING_CONFIG["handlers"].items()
    }
    if log_format == "json":
        config["formatters"] = {
            name: {"()": f"{__name__}.JsonFormatter"} for name in LOGGING_CONFIG["formatters"]
        }
        config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config
