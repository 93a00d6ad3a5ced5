"""pcm-aws-common: the AWS foundation of PCM-Ops.

Partitions and regions, credential sources, the accounts registry, cross-account AssumeRole
with refreshable credentials, and the client factory every AWS plugin uses::

    from pcm_aws_common import AwsClients

    async with aws.client("ssm", account="123456789012", region="us-east-1", user="alice") as ssm:
        await ssm.send_command(...)

The entry point ``aws-common = "pcm_aws_common.plugin"`` names :mod:`pcm_aws_common.plugin`,
which core imports at discovery; importing this package must stay cheap, so the public
names below are loaded on first use (aiobotocore is imported only then).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pcm_aws_common.config import AwsCommonSettings
    from pcm_aws_common.dependencies import AwsClientsDep, get_aws_clients
    from pcm_aws_common.services.clients import (
        AccountInfo,
        AwsClients,
        CallerIdentity,
    )
    from pcm_aws_common.services.errors import (
        AccountNotFound,
        AssumeRoleError,
        AwsAccessError,
        PartitionBoundaryError,
    )
    from pcm_aws_common.services.metrics import API_CALLS, ApiCallCounter

_EXPORTS = {
    "API_CALLS": "pcm_aws_common.services.metrics",
    "AccountInfo": "pcm_aws_common.services.clients",
    "AccountNotFound": "pcm_aws_common.services.errors",
    "ApiCallCounter": "pcm_aws_common.services.metrics",
    "AssumeRoleError": "pcm_aws_common.services.errors",
    "AwsAccessError": "pcm_aws_common.services.errors",
    "AwsClients": "pcm_aws_common.services.clients",
    "AwsClientsDep": "pcm_aws_common.dependencies",
    "AwsCommonSettings": "pcm_aws_common.config",
    "CallerIdentity": "pcm_aws_common.services.clients",
    "PartitionBoundaryError": "pcm_aws_common.services.errors",
    "get_aws_clients": "pcm_aws_common.dependencies",
}

__all__ = [
    "API_CALLS",
    "AccountInfo",
    "AccountNotFound",
    "ApiCallCounter",
    "AssumeRoleError",
    "AwsAccessError",
    "AwsClients",
    "AwsClientsDep",
    "AwsCommonSettings",
    "CallerIdentity",
    "PartitionBoundaryError",
    "get_aws_clients",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pcm_aws_common' has no attribute {name!r}")
    return getattr(import_module(module), name)
