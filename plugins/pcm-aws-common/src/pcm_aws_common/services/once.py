"""AWS calls that must not happen twice: :func:`call_at_most_once`.

Some calls change the world and carry no idempotency token: SSM's ``SendCommand`` runs a
script on servers every time it is received. When such a call fails *after* AWS may have
received it (a 5xx, a read timeout, a reset connection, throttling), sending it again could
run the script twice, and recording it as failed could contradict what happened on the
servers. Neither botocore nor the caller may retry it blindly: the caller marks the request
with something it can find again (SendCommand's comment), makes the call with a client that
never retries (``AwsClients.client(..., idempotent=False)``), and, when the outcome is
unknown, asks the service what happened before calling again::

    async with aws.client("ssm", account=..., region=..., idempotent=False) as ssm:
        sent = await call_at_most_once(
            lambda: ssm.send_command(**arguments, Comment=stamp),
            lambda: find_command_by_comment(ssm, stamp),
        )

An answer from AWS that says it did not act (a 4xx other than throttling: a bad parameter,
an unknown instance, access denied) is final: :class:`CallRefused`, never retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pcm_aws_common.services.clients import aws_error
from pcm_aws_common.services.metrics import THROTTLING_CODES

__all__ = [
    "THROTTLING_CODES",
    "CallNotMade",
    "CallRefused",
    "Once",
    "OutcomeUnknown",
    "call_at_most_once",
    "outcome_unknown",
]

logger = logging.getLogger("pcm_aws_common.once")

T = TypeVar("T")


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed call may have been carried out by AWS all the same.

    True when no answer came (timeout, reset or refused connection, any error below HTTP),
    for a 5xx, and for throttling (a proxy or gateway may answer it after the request went
    on); False when AWS answered with a 4xx that says it did not act.
    """
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return True
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(response.get("Error", {}).get("Code") or "")
    return status >= 500 or status == 0 or code in THROTTLING_CODES


@dataclass(frozen=True)
class Once(Generic[T]):
    """What :func:`call_at_most_once` found: the call's answer, or what the lookup found."""

    value: T
    #: True when the value came from the lookup: the call was carried out although its
    #: answer was lost (or an earlier process made it before a crash).
    adopted: bool
    #: How many times the call was made (0: found before calling).
    calls: int
    #: The failures with unknown outcome met on the way (``"code: message"``).
    unknown: tuple[str, ...] = ()


class CallNotMade(Exception):
    """The call was not carried out: AWS refused it, or every attempt failed and the service
    confirms that none of them was carried out. ``code`` and ``message`` are the last
    error's."""

    def __init__(self, code: str, message: str, unknown: tuple[str, ...] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.unknown = code, message, unknown


class CallRefused(CallNotMade):
    """AWS answered that it did not act (a 4xx other than throttling)."""


class OutcomeUnknown(Exception):
    """The call may or may not have been carried out, and the service could not be asked:
    nothing may be called again until it can be (e.g. a retry of the whole step later, which
    looks first)."""

    def __init__(self, message: str, unknown: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unknown = unknown


async def call_at_most_once(
    call: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    look_first: bool = False,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Once[T]:
    """Make ``call`` at most once in effect, however its answers get lost.

    :param call: makes the call (with a client that never retries) and returns its answer.
    :param find: asks the service whether the call was carried out; returns what ``call``
        would have returned (or an equivalent) when it was, else ``None``. It must be a
        read, safe to repeat (it may use a client with retries).
    :param attempts: how many times ``call`` may be made, each after ``find`` said the
        previous one was not carried out.
    :param backoff: seconds to wait before the first lookup, doubled for each later one:
        time for the service to settle (and for throttling to ease).
    :param look_first: look before the first call (a restarted process that may have made
        the call before it died).
    :raises CallRefused: AWS refused the call: it was not carried out, never retried.
    :raises CallNotMade: every attempt failed with an unknown outcome and the service says
        none was carried out.
    :raises OutcomeUnknown: a lookup failed: whether the call was carried out is not known.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    unknown: list[str] = []

    async def look() -> T | None:
        try:
            return await find()
        except Exception as exc:
            code, message = aws_error(exc)
            raise OutcomeUnknown(
                f"could not find out whether the call was carried out: {code}: {message}",
                tuple(unknown),
            ) from exc

    if look_first:
        found = await look()
        if found is not None:
            return Once(found, adopted=True, calls=0)
    code, message = "", ""
    for attempt, calls in enumerate(range(1, attempts + 1)):
        try:
            return Once(await call(), adopted=False, calls=calls, unknown=tuple(unknown))
        except Exception as exc:
            code, message = aws_error(exc)
            if not outcome_unknown(exc):
                raise CallRefused(code, message, tuple(unknown)) from exc
            unknown.append(f"{code}: {message}"[:500])
            logger.warning(
                "call %d of %d failed with an unknown outcome (%s: %s); asking the service "
                "before calling again",
                calls,
                attempts,
                code,
                message,
            )
        await sleep(backoff * 2**attempt)
        found = await look()
        if found is not None:
            return Once(found, adopted=True, calls=calls, unknown=tuple(unknown))
    raise CallNotMade(code, message, tuple(unknown))
