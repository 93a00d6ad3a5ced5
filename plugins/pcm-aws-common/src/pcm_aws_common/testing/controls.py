"""The settings of the extended moto server that tests change while it runs.

Process-wide, like moto's backends: several servers in one process share them.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

#: What an injected fault does to a request.
FAULT_KINDS = ("error", "throttle", "timeout", "reset")


@dataclass
class Fault:
    """A fault injected into the requests of one operation (see :meth:`ServerControls.inject`).

    ``after`` says whether moto processes the request first (the answer is lost after AWS
    acted: the caller cannot know what happened) or not at all (AWS refused it).
    """

    service: str
    operation: str
    kind: str
    after: bool
    #: How many matching requests it hits; ``None``: every one (subject to ``rate``).
    times: int | None = None
    #: The share of matching requests it hits, drawn from a generator seeded with ``seed``.
    rate: float = 1.0
    seed: int = 0
    #: ``timeout``: how long the answer is held back (longer than the client's read timeout).
    seconds: float = 5.0
    hits: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not 0 < self.rate <= 1:
            raise ValueError("a fault's rate must be above 0 and at most 1")
        if self.times is not None and self.times < 1:
            raise ValueError("a fault's times must be at least 1 (or None: every request)")
        if self.seconds < 0:
            raise ValueError("a fault's seconds must not be negative")
        self._random.seed(self.seed)

    def strikes(self) -> bool:
        """Whether this fault hits the next matching request (and count it when it does)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.rate < 1 and self._random.random() >= self.rate:
            return False
        self.hits += 1
        return True


@dataclass(frozen=True)
class InjectedFault:
    """One request a fault hit, in the server's log (:meth:`ServerControls.injected`)."""

    service: str
    operation: str
    kind: str
    after: bool


class ServerControls:
    """Latency and fault injection, authentication, assumed-role lifetimes and request
    counts."""

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
            self._faults: list[Fault] = []
            self._injected: list[InjectedFault] = []

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

    # -- faults --------------------------------------------------------------------------------

    def inject(
        self,
        service: str,
        operation: str,
        kind: str,
        *,
        after: bool = True,
        times: int | None = None,
        rate: float = 1.0,
        seed: int = 0,
        seconds: float = 5.0,
    ) -> Fault:
        """Make requests of ``service``'s ``operation`` fail as a real network or AWS would:

        - ``error``: HTTP 500 ``InternalServerError`` in the service's error format;
        - ``throttle``: HTTP 400 ``ThrottlingException``;
        - ``timeout``: the answer is held back ``seconds`` (the client's read timeout
          fires first);
        - ``reset``: the connection is dropped without an answer.

        With ``after=True`` (the default) moto processes the request first and only the
        answer is lost: the call *did* happen, and the caller cannot tell. With
        ``after=False`` the request never reaches moto. ``times`` limits how many requests
        it hits, ``rate`` the share of them (seeded: the same requests every run)::

            aws.controls.inject("ssm", "SendCommand", "error", rate=0.3, seed=7)

        Several faults may be active; the first that strikes a request wins.
        """
        fault = Fault(service, operation, kind, after, times, rate, seed, seconds)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault (the log of those that struck stays)."""
        with self._lock:
            self._faults.clear()

    def fault_for(self, service: str, operation: str) -> Fault | None:
        """The fault that strikes this request, if any (recorded in :meth:`injected`)."""
        with self._lock:
            for fault in self._faults:
                if (fault.service, fault.operation) == (service, operation) and fault.strikes():
                    self._injected.append(
                        InjectedFault(service, operation, fault.kind, fault.after)
                    )
                    return fault
        return None

    def injected(self) -> list[InjectedFault]:
        """Every request a fault struck, in order."""
        with self._lock:
            return list(self._injected)

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
