"""The timestamp parser of every client the factory makes.

botocore turns each timestamp of a response into a datetime with ``dateutil``: an epoch
number (what the JSON protocols, SSM's among them, send) becomes a datetime in a new
``tzlocal()``, whose conversion is Python code. ``ListCommandInvocations`` with details
has three timestamps per instance, and in a fan-out to thousands of instances that was
about a tenth of the application's CPU. :func:`parse_timestamp` gives the same instant
for the common forms with the standard library, and hands every other form to botocore's
own parser, so what it accepts and refuses is unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_timestamp"]


def parse_timestamp(value: Any) -> datetime:
    """A response's timestamp as a datetime: the instant botocore's parser gives.

    Epoch seconds (a number, or a string of one) give an aware datetime in UTC (botocore's
    is in the local zone: the same instant); ISO 8601 text is read by
    :meth:`datetime.fromisoformat` (aware when the text carries a zone, naive when it does
    not, as botocore does); anything else (RFC 822 dates, say) goes to botocore.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    elif isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            pass
        if "T" in value or "-" in value[:10]:
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
    from botocore.utils import parse_timestamp as botocore_parse_timestamp

    parsed: datetime = botocore_parse_timestamp(value)
    return parsed
