"""Counting AWS API calls by service and operation, for metrics and benchmarks.

:data:`AWS_API_CALLS` is the Prometheus counter ``pcm_aws_api_calls_total`` (service,
operation, account, region, outcome ``ok``/``throttled``/``error``), counted by every client
the factory hands out, once per call (botocore's own retries inside a call are not extra
calls; a call that ends throttled after them is ``throttled``).

Every session the client factory creates registers :meth:`ApiCallCounter.before_call` and
:meth:`ApiCallCounter.after_call` on botocore's ``before-call`` and ``after-call`` events, so
each call is counted once (retries inside a call are not extra calls) and each call that
AWS answered with an error is counted as an error too. :data:`API_CALLS` is shared by every
client factory in the process.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pcm_ops import metrics

#: Every AWS API call of this process, by its outcome.
AWS_API_CALLS = metrics.counter(
    "pcm_aws_api_calls_total",
    "AWS API calls by service, operation, account (or source:<id>), region and outcome "
    "(ok, throttled, error)",
    ["service", "operation", "account", "region", "outcome"],
)

#: Error codes with which AWS services say "slow down" (botocore's list for its retry
#: modes, and SSM's own); also what :mod:`~pcm_aws_common.services.once` retries.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


def outcome_of(exc: BaseException | None) -> str:
    """``ok`` (no exception), ``throttled`` or ``error``."""
    if exc is None:
        return "ok"
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code") or "")
        if code in THROTTLING_CODES:
            return "throttled"
    return "error"


@dataclass(frozen=True)
class ApiCallCount:
    service: str
    operation: str
    calls: int
    errors: int


class ApiCallCounter:
    """Thread-safe counts of calls and errors per ``(service, operation)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._errors: Counter[tuple[str, str]] = Counter()

    # botocore event handlers ----------------------------------------------------------------

    def before_call(self, model: Any, **_: Any) -> None:
        key = (model.service_model.service_name, model.name)
        with self._lock:
            self._calls[key] += 1

    def after_call(self, model: Any, http_response: Any = None, **_: Any) -> None:
        status = getattr(http_response, "status_code", 200)
        if status is not None and status >= 300:
            key = (model.service_model.service_name, model.name)
            with self._lock:
                self._errors[key] += 1

    # reading --------------------------------------------------------------------------------

    def calls(self, service: str | None = None, operation: str | None = None) -> int:
        """Calls made so far, optionally of one service and operation
        (``calls("sts", "AssumeRole")``)."""
        with self._lock:
            return sum(
                count
                for (svc, op), count in self._calls.items()
                if (service is None or svc == service) and (operation is None or op == operation)
            )

    def snapshot(self) -> list[ApiCallCount]:
        """Every ``(service, operation)`` seen, sorted."""
        with self._lock:
            keys = sorted(set(self._calls) | set(self._errors))
            return [
                ApiCallCount(
                    service,
                    operation,
                    self._calls[(service, operation)],
                    self._errors[(service, operation)],
                )
                for service, operation in keys
            ]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._errors.clear()


#: The counter of this process.
API_CALLS = ApiCallCounter()
