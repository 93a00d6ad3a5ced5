"""The settings of the extended moto server that tests change while it runs.

Process-wide, like moto's backends: several servers in one process share them.
"""

from __future__ import annotations

import threading
from collections import Counter


class ServerControls:
    """Latency injection, authentication, assumed-role lifetimes and request counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to the defaults: no latency, authentication on, AWS's session lifetimes;
        request counts start again from zero."""
        with self._lock:
            self._latency: dict[tuple[str | None, str | None], float] = {}
            self.authenticate = True
            self.assume_role_seconds: int | None = None
            self._requests: Counter[tuple[str, str]] = Counter()

    # -- latency -------------------------------------------------------------------------------

    def set_latency(
        self, seconds: float, *, service: str | None = None, operation: str | None = None
    ) -> None:
        """Delay every request (or those of ``service``, or of one ``operation`` of it) by
        ``seconds`` before moto answers; the most specific setting wins. 0 removes it."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        with self._lock:
            if seconds == 0:
                self._latency.pop((service, operation), None)
            else:
                self._latency[(service, operation)] = seconds

    def latency_for(self, service: str | None, operation: str | None) -> float:
        with self._lock:
            for key in ((service, operation), (service, None), (None, None)):
                if key in self._latency:
                    return self._latency[key]
        return 0.0

    # -- request counts ------------------------------------------------------------------------

    def count(self, service: str, operation: str) -> None:
        with self._lock:
            self._requests[(service, operation)] += 1

    def requests(self, service: str | None = None, operation: str | None = None) -> int:
        """Requests the server received (after authentication was checked), optionally of
        one service and operation: ``requests("ssm", "SendCommand")``."""
        with self._lock:
            return sum(
                count
                for (svc, op), count in self._requests.items()
                if (service is None or svc == service) and (operation is None or op == operation)
            )

    def request_counts(self) -> dict[str, int]:
        """``{"ssm.SendCommand": 3, ...}``"""
        with self._lock:
            return {f"{svc}.{op}": count for (svc, op), count in sorted(self._requests.items())}


CONTROLS = ServerControls()
