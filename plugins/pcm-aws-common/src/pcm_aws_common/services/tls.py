"""One TLS context per process for every AWS client.

aiobotocore gives each client an HTTP session of its own, and each session builds a TLS
context of its own on its first request: ``create_urllib3_context`` plus loading the CA
bundle (``load_verify_locations``), a few milliseconds of CPU and about a megabyte each. An
execution that reaches 100 account-regions made 100 of them on a new server. The session
class here builds the context once for each set of verify options (CA bundle or not,
client certificate) and hands every client the same one; an :class:`ssl.SSLContext` may be
shared by any number of connections. Requests through a proxy keep aiobotocore's own path
(their proxy context depends on the proxy's settings).
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

from aiobotocore.httpsession import AIOHTTPSession

__all__ = ["SharedTlsSession", "shared_contexts_built"]

_lock = threading.Lock()
_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
_built = 0


def shared_contexts_built() -> int:
    """How many TLS contexts this process has built for AWS clients (one per distinct set
    of verify options, however many clients there are)."""
    return _built


class SharedTlsSession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session, with the TLS context shared by every client of the
    process that has the same verify options (``AioConfig(http_session_cls=...)``)."""

    def _build_ssl_contexts(self, proxy_url: str | None) -> tuple[Any, Any]:
        if proxy_url:
            return super()._build_ssl_contexts(proxy_url)  # type: ignore[no-any-return]
        global _built
        key = (self._verify, self._cert_file, self._key_file)
        with _lock:  # called in a worker thread (aiobotocore keeps file reads off the loop)
            context = _contexts.get(key)
            if context is None:
                context, _ = super()._build_ssl_contexts(None)
                _contexts[key] = context
                _built += 1
        return context, None
