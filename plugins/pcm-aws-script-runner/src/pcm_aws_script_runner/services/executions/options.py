"""An execution's options: rate control (max concurrency, max errors), timeouts, where
output goes, the comment and the change reference, each validated with its field named."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pcm_aws_script_runner.services.errors import InvalidInput

if TYPE_CHECKING:
    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_aws_script_runner.services.executions.drafts import ExecutionDraft

__all__ = [
    "DEFAULT_DELIVERY_TIMEOUT",
    "DEFAULT_EXECUTION_TIMEOUT",
    "DELIVERY_TIMEOUT_RANGE",
    "EXECUTION_TIMEOUT_RANGE",
    "MAX_CHANGE_REFERENCE_CHARS",
    "MAX_COMMENT_CHARS",
    "Options",
    "absolute_limit",
    "parse_limit",
    "validate_options",
]

#: SendCommand's TimeoutSeconds (delivery) range, and AWS-Run*Script's executionTimeout.
DELIVERY_TIMEOUT_RANGE = (30, 2_592_000)
EXECUTION_TIMEOUT_RANGE = (1, 172_800)
DEFAULT_DELIVERY_TIMEOUT = 600
DEFAULT_EXECUTION_TIMEOUT = 3600
MAX_COMMENT_CHARS = 500
MAX_CHANGE_REFERENCE_CHARS = 100

_LIMIT = re.compile(r"^\s*(\d{1,6})\s*(%?)\s*$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{0,500}$")
_LOG_GROUP = re.compile(r"^[A-Za-z0-9_./#-]{1,512}$")


@dataclass(frozen=True)
class Options:
    """A draft's options, validated (limits in their canonical text: ``"10"``, ``"10%"``)."""

    max_concurrency: str
    max_errors: str
    delivery_timeout_seconds: int
    execution_timeout_seconds: int
    output_s3_bucket: str | None
    output_s3_prefix: str | None
    cloudwatch_log_group: str | None
    comment: str
    change_reference: str | None


def parse_limit(value: Any, what: str, *, minimum: int) -> tuple[str, int | None]:
    """``"10"`` or ``"10%"`` (or an int) → (canonical text, absolute value or ``None`` for a
    percentage). :raises InvalidInput: naming ``what``."""
    if isinstance(value, bool):
        raise InvalidInput([(what, "must be a number of instances or a percentage like '10%'")])
    text = str(value) if isinstance(value, int) else value
    match = _LIMIT.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            [(what, f"{value!r} is not a number of instances or a percentage like '10%'")]
        )
    number, percent = int(match.group(1)), bool(match.group(2))
    if percent and number > 100:
        raise InvalidInput([(what, "a percentage must be at most 100%")])
    if number < minimum:
        raise InvalidInput([(what, f"must be at least {minimum}")])
    return (f"{number}%" if percent else str(number)), (None if percent else number)


def absolute_limit(text: str, total: int, *, minimum: int) -> int:
    """A limit from :func:`parse_limit` as a number of instances out of ``total``."""
    if text.endswith("%"):
        return max(minimum, math.floor(total * int(text[:-1]) / 100))
    return int(text)


def validate_options(
    draft: ExecutionDraft, config: ScriptRunnerSettings, problems: list[tuple[str, str]]
) -> Options:
    """The draft's options, defaults from ``config`` filled in; each problem found is
    appended to ``problems`` (naming its field) and its field gets a placeholder."""
    concurrency = _limit(
        problems, "max_concurrency", draft.max_concurrency, config.default_max_concurrency, 1
    )
    errors = _limit(problems, "max_errors", draft.max_errors, config.default_max_errors, 0)
    delivery = _timeout(
        problems,
        "delivery_timeout_seconds",
        draft.delivery_timeout_seconds,
        DELIVERY_TIMEOUT_RANGE,
        DEFAULT_DELIVERY_TIMEOUT,
    )
    execution_timeout = _timeout(
        problems,
        "execution_timeout_seconds",
        draft.execution_timeout_seconds,
        EXECUTION_TIMEOUT_RANGE,
        DEFAULT_EXECUTION_TIMEOUT,
    )
    bucket = _optional_text(
        problems, "output_s3_bucket", draft.output_s3_bucket, _S3_BUCKET, "is not an S3 bucket name"
    )
    prefix = _optional_text(
        problems,
        "output_s3_prefix",
        draft.output_s3_prefix,
        _S3_PREFIX,
        "may hold letters, digits and !_.*'()/- (at most 500)",
    )
    if prefix and not bucket:
        problems.append(("output_s3_prefix", "give output_s3_bucket too"))
    log_group = _optional_text(
        problems,
        "cloudwatch_log_group",
        draft.cloudwatch_log_group,
        _LOG_GROUP,
        "is not a CloudWatch log group name",
    )
    return Options(
        max_concurrency=concurrency,
        max_errors=errors,
        delivery_timeout_seconds=delivery,
        execution_timeout_seconds=execution_timeout,
        output_s3_bucket=bucket,
        output_s3_prefix=prefix,
        cloudwatch_log_group=log_group,
        comment=_comment(problems, draft.comment),
        change_reference=_change_reference(problems, draft.change_reference),
    )


def _limit(
    problems: list[tuple[str, str]], name: str, value: Any, default: Any, minimum: int
) -> str:
    try:
        text, _ = parse_limit(
            default if value is None or value == "" else value, name, minimum=minimum
        )
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return "1"
    return text


def _comment(problems: list[tuple[str, str]], value: Any) -> str:
    comment = value if isinstance(value, str) else ""
    if not isinstance(value, str | None):
        problems.append(("comment", "must be text"))
    elif len(comment) > MAX_COMMENT_CHARS:
        problems.append(("comment", f"is longer than {MAX_COMMENT_CHARS} characters"))
    return comment


def _change_reference(problems: list[tuple[str, str]], value: Any) -> str | None:
    change = value or None
    if change is not None and (
        not isinstance(change, str) or len(change) > MAX_CHANGE_REFERENCE_CHARS
    ):
        problems.append(
            ("change_reference", f"must be text of at most {MAX_CHANGE_REFERENCE_CHARS}")
        )
        return None
    return change


def _optional_text(
    problems: list[tuple[str, str]], name: str, value: Any, pattern: re.Pattern[str], hint: str
) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.match(value):
        problems.append((name, hint))
        return None
    return value


def _timeout(
    problems: list[tuple[str, str]], name: str, value: Any, bounds: tuple[int, int], default: int
) -> int:
    if value is None:
        return default
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append((name, f"must be a whole number of seconds from {low} to {high}"))
        return default
    if not low <= value <= high:
        problems.append((name, f"{value} is out of range: give {low} to {high} seconds"))
        return default
    return value
