"""A concurrency limit per account and region, shared by every caller in the process.

AWS throttles per account and region, so that is the unit to limit. Semaphores belong to an
event loop; the registry keeps one set per running loop (a server has one; tests make
many), so every client factory on the same loop shares the same limits.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from types import TracebackType


class Limit:
    """An ``asyncio.Semaphore`` that also tells how many calls hold it, and the most that
    ever did at once (``peak``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_flight = 0
        self.peak = 0
        self._semaphore = asyncio.Semaphore(size)

    async def __aenter__(self) -> Limit:
        await self._semaphore.acquire()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore.release()


class ConcurrencyLimits:
    """:class:`Limit` objects keyed by ``(account, region)``, per event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, str], Limit]
        ] = weakref.WeakKeyDictionary()

    def limit(self, account: str, region: str, size: int) -> Limit:
        """The limit of ``(account, region)`` on the running loop; ``size`` applies when it
        is created (the first caller's size wins)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            limits = self._per_loop.setdefault(loop, {})
            found = limits.get((account, region))
            if found is None:
                found = limits[(account, region)] = Limit(size)
            return found


#: The limits of this process.
LIMITS = ConcurrencyLimits()
