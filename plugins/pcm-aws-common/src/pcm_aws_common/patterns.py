"""The shapes of AWS identifiers: one definition each, for every plugin that checks them.

Standard library only, so schemas, pages, services and CLI commands of any AWS plugin can
import it without loading aiobotocore. The region pattern accepts every partition's
regions (``us-east-1``, ``us-gov-west-1``, ``cn-north-1``, ``us-isob-east-1``,
``eu-isoe-west-1``); whether a region exists is the partition catalog's question
(:mod:`pcm_aws_common.services.partitions`), not a pattern's.
"""

from __future__ import annotations

import re

__all__ = [
    "ACCOUNT_ID",
    "ACCOUNT_ID_PATTERN",
    "INSTANCE_ID",
    "INSTANCE_ID_PATTERN",
    "REGION",
    "REGION_PATTERN",
    "ROLE_ARN",
    "is_account_id",
    "is_instance_id",
    "is_region",
]

#: An AWS account id: exactly 12 digits (for ``pattern=`` of FastAPI and Pydantic fields).
ACCOUNT_ID_PATTERN = r"^\d{12}$"
#: A region id of any partition: two letters, one or more words, a number.
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
#: An EC2 instance (``i-``) or a hybrid managed node (``mi-``) id.
INSTANCE_ID_PATTERN = r"^(i|mi)-[0-9a-f]{8,17}$"

ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)
REGION = re.compile(REGION_PATTERN)
INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)
#: An IAM role ARN of any partition; groups ``partition`` and ``account``.
ROLE_ARN = re.compile(
    r"^arn:(?P<partition>[a-z][a-z-]*):iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$"
)


def is_account_id(value: str) -> bool:
    return ACCOUNT_ID.match(value) is not None


def is_region(value: str) -> bool:
    return REGION.match(value) is not None


def is_instance_id(value: str) -> bool:
    return INSTANCE_ID.match(value) is not None
