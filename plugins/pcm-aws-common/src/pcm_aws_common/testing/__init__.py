"""Test support for code that talks to AWS: moto in server mode, extended where moto falls
short, with accounts, partitions and EC2 instances prepared.

For this repository and for other plugin authors (install ``pcm-aws-common[testing]``)::

    from pcm_aws_common.testing import MotoAws

    with MotoAws() as aws:                       # moto on 127.0.0.1, a free port
        account = aws.add_account("111111111111", instances=2)
        ...                                      # point aiobotocore at aws.endpoint_url

or, in pytest, the fixtures of :mod:`pcm_aws_common.testing.fixtures` (loaded by itself
where this package is installed): ``moto_aws``, ``moto_pcm_settings``, ``moto_credentials_env``.

What the server adds to moto (see :mod:`~pcm_aws_common.testing.ssm`,
:mod:`~pcm_aws_common.testing.sts` and :mod:`~pcm_aws_common.testing.middleware`):

- SSM: ``ListCommandInvocations`` (with details and paging), ``CancelCommand``,
  ``DescribeInstanceInformation`` for running instances, ``SendCommand`` that targets only
  the instances asked for, and a settable status, output and exit code per invocation
  (:class:`~pcm_aws_common.testing.ssm.SsmControl`, or HTTP under ``/pcm-moto/``), reached
  at once or after a delay, and chosen per instance by a rule (the instance's tags, with
  :class:`~pcm_aws_common.testing.outcomes.TagOutcomes`);
- STS: AssumeRole refuses roles that do not exist (AWS's AccessDenied) and durations above
  the role's maximum, and can hand out credentials that expire after a few seconds;
- every request is authenticated as AWS does it: unknown access keys, wrong secrets and
  expired session credentials are refused with AWS's error codes and messages;
- latency injection: a delay per request, for all or one service and operation.

Nothing heavy is imported here: pytest imports this package in every run where it is
installed. The names below load moto on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_aws_common.testing.outcomes import TagOutcomes
    from pcm_aws_common.testing.server import (
        DEFAULT_ACCOUNTS,
        MotoAccount,
        MotoAws,
    )
    from pcm_aws_common.testing.ssm import (
        InvocationContext,
        InvocationOutcome,
        ScheduledOutcome,
        SsmControl,
    )

_EXPORTS = {
    "DEFAULT_ACCOUNTS": "pcm_aws_common.testing.server",
    "InvocationContext": "pcm_aws_common.testing.ssm",
    "InvocationOutcome": "pcm_aws_common.testing.ssm",
    "MotoAccount": "pcm_aws_common.testing.server",
    "MotoAws": "pcm_aws_common.testing.server",
    "ScheduledOutcome": "pcm_aws_common.testing.ssm",
    "SsmControl": "pcm_aws_common.testing.ssm",
    "TagOutcomes": "pcm_aws_common.testing.outcomes",
}

__all__ = [
    "DEFAULT_ACCOUNTS",
    "InvocationContext",
    "InvocationOutcome",
    "MotoAccount",
    "MotoAws",
    "ScheduledOutcome",
    "SsmControl",
    "TagOutcomes",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pcm_aws_common.testing' has no attribute {name!r}")
    return getattr(import_module(module), name)
