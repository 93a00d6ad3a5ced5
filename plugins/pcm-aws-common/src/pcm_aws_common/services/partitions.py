"""Partitions and regions: botocore's endpoint data, and the seeded tables that hold it.

The table models are imported where they are used: the client factory uses the catalog
alone, and importing it must not register tables.

Only two partitions are supported: ``aws`` (called *Commercial*) and ``aws-us-gov``
(*GovCloud*). Their regions come from the endpoint data of the installed botocore, never
from a list written here, so a botocore upgrade brings new regions (``pcm-ops aws regions
sync``, or the seed when its version grows).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcm_aws_common.services.errors import FieldProblem

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_common.models import AwsPartition, AwsRegion

#: The supported partitions and what the UI and API call them.
PARTITION_NAMES: dict[str, str] = {"aws": "Commercial", "aws-us-gov": "GovCloud"}

#: Where partition-wide calls go (STS validation, Organizations). botocore's endpoint data
#: does not name a "home" region, so these two are the one fixed choice here.
DEFAULT_REGIONS: dict[str, str] = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1"}

_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):")


@dataclass(frozen=True)
class PartitionData:
    """A partition as botocore describes it."""

    id: str
    name: str
    aws_name: str
    dns_suffix: str
    default_region: str
    #: ``(region id, description)``, sorted by id.
    regions: tuple[tuple[str, str], ...]

    @property
    def region_ids(self) -> frozenset[str]:
        return frozenset(region for region, _ in self.regions)


@functools.cache
def catalog() -> dict[str, PartitionData]:
    """The supported partitions with their regions, from botocore's ``endpoints`` data."""
    from botocore.loaders import create_loader

    endpoints = create_loader().load_data("endpoints")
    found: dict[str, PartitionData] = {}
    for partition in endpoints["partitions"]:
        partition_id = partition["partition"]
        if partition_id not in PARTITION_NAMES:
            continue
        regions = tuple(
            sorted(
                (region, str(details.get("description", "")))
                for region, details in partition["regions"].items()
            )
        )
        found[partition_id] = PartitionData(
            id=partition_id,
            name=PARTITION_NAMES[partition_id],
            aws_name=partition.get("partitionName", partition_id),
            dns_suffix=partition.get("dnsSuffix", ""),
            default_region=DEFAULT_REGIONS[partition_id],
            regions=regions,
        )
    return found


def partition_label(partition: str) -> str:
    """``aws`` → ``aws (Commercial)``: how messages name a partition."""
    name = PARTITION_NAMES.get(partition)
    return f"{partition} ({name})" if name else partition


def describe_choices() -> str:
    return " or ".join(f"'{pid}' ({name})" for pid, name in PARTITION_NAMES.items())


def check_partition(partition: str, field: str = "partition") -> str:
    if partition not in PARTITION_NAMES:
        raise FieldProblem(field, f"unknown partition {partition!r}; use {describe_choices()}")
    return partition


def partition_of_region(region: str) -> str | None:
    """The supported partition ``region`` belongs to, by botocore's data, or ``None``."""
    for partition in catalog().values():
        if region in partition.region_ids:
            return partition.id
    return None


def partition_of_arn(arn: str) -> str | None:
    match = _ARN.match(arn)
    return match.group("partition") if match else None


# -- the seeded tables ----------------------------------------------------------------------


async def sync_partitions(session: AsyncSession) -> int:
    """Write the catalog into ``aws_common_partition`` and ``aws_common_region``; return the
    number of regions written. Idempotent; regions botocore no longer lists are kept
    (accounts may still name them)."""
    from sqlmodel import select

    from pcm_aws_common.models import AwsPartition, AwsRegion

    partitions = {row.id: row for row in (await session.exec(select(AwsPartition))).all()}
    regions = {row.id: row for row in (await session.exec(select(AwsRegion))).all()}
    count = 0
    for data in catalog().values():
        partition = partitions.get(data.id) or AwsPartition(
            id=data.id, name="", aws_name="", dns_suffix="", default_region=""
        )
        partition.name = data.name
        partition.aws_name = data.aws_name
        partition.dns_suffix = data.dns_suffix
        partition.default_region = data.default_region
        session.add(partition)
        await session.flush()  # regions refer to it
        for region_id, description in data.regions:
            region = regions.get(region_id) or AwsRegion(id=region_id, partition_id=data.id)
            region.partition_id = data.id
            region.description = description
            session.add(region)
            count += 1
    await session.flush()
    return count


async def require_seeded(session: AsyncSession, partition: str) -> None:
    """Refuse clearly when ``partition`` is not in the database: its seed has not run.

    :raises Conflict: the seeded tables lack the partition (``pcm-ops db seed`` writes it).
    """
    from pcm_aws_common.models import AwsPartition
    from pcm_aws_common.services.errors import Conflict

    if await session.get(AwsPartition, partition) is None:
        raise Conflict(
            f"the AWS partition {partition!r} is not in the database yet: its seed has not "
            "run; run `pcm-ops db seed` (after `pcm-ops db upgrade`) and try again"
        )


async def list_partitions(session: AsyncSession) -> list[tuple[AwsPartition, list[AwsRegion]]]:
    """Every seeded partition with its regions, in id order."""
    from sqlmodel import col, select

    from pcm_aws_common.models import AwsPartition, AwsRegion

    partitions = (await session.exec(select(AwsPartition).order_by(col(AwsPartition.id)))).all()
    regions = (await session.exec(select(AwsRegion).order_by(col(AwsRegion.id)))).all()
    return [
        (partition, [region for region in regions if region.partition_id == partition.id])
        for partition in partitions
    ]


async def region_ids(session: AsyncSession, partition: str) -> set[str]:
    """The seeded regions of ``partition``.

    :raises FieldProblem: the tables are empty (the seed has not run).
    """
    from sqlmodel import select

    from pcm_aws_common.models import AwsRegion

    statement = select(AwsRegion.id).where(AwsRegion.partition_id == partition)
    found = set((await session.exec(statement)).all())
    if not found:
        raise FieldProblem(
            "partition",
            f"no regions are known for partition {partition_label(partition)}; run "
            "`pcm-ops db seed` (or `pcm-ops aws regions sync`)",
        )
    return found


async def check_regions(
    session: AsyncSession, partition: str, regions: list[str], field: str = "regions"
) -> list[str]:
    """``regions`` without duplicates, each checked to belong to ``partition``."""
    known = await region_ids(session, partition)
    unique: list[str] = []
    for region in regions:
        if region not in known:
            home = partition_of_region(region)
            hint = (
                f"it is a region of {partition_label(home)}"
                if home
                else "it is not an AWS region botocore knows"
            )
            raise FieldProblem(
                field,
                f"{region!r} is not a region of partition {partition_label(partition)}; {hint}",
            )
        if region not in unique:
            unique.append(region)
    return unique
