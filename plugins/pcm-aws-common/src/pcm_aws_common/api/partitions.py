"""``/partitions``: the Commercial and GovCloud partitions and their regions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pcm_aws_common.ids import READ
from pcm_aws_common.schemas import PartitionOut, RegionOut
from pcm_aws_common.services import partitions
from pcm_ops.api.deps import DbSession
from pcm_ops.security import require

router = APIRouter()


@router.get(
    "/partitions",
    response_model=list[PartitionOut],
    summary="Partitions and their regions",
    dependencies=[require(READ)],
)
async def list_partitions(session: DbSession) -> Any:
    return [
        PartitionOut(
            id=partition.id,
            name=partition.name,
            aws_name=partition.aws_name,
            default_region=partition.default_region,
            regions=[RegionOut(id=region.id, description=region.description) for region in regions],
        )
        for partition, regions in await partitions.list_partitions(session)
    ]
