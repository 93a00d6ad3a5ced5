"""The plugin's seeds. Each runs once per version, in a transaction of its own."""

from __future__ import annotations

from pcm_aws_common.services.partitions import sync_partitions
from pcm_ops.plugin import SeedContext


async def seed_partitions(context: SeedContext) -> None:
    """Partitions ``aws`` (Commercial) and ``aws-us-gov`` (GovCloud) and their regions, from
    the endpoint data of the installed botocore."""
    await sync_partitions(context.session)  # type: ignore[arg-type]  # sqlmodel's session
