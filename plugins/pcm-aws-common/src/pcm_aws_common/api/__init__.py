"""The plugin's JSON API, mounted under ``/api/tools/aws/common``: one router per resource.

Every route declares the permission it needs; secrets are accepted, never returned.
"""

from __future__ import annotations

from typing import Any


def routers() -> list[Any]:
    from pcm_aws_common.api import accounts, credentials, metrics, partitions

    return [partitions.router, credentials.router, accounts.router, metrics.router]
