"""``/metrics/api-calls``: how many AWS calls this process made, by service and operation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pcm_aws_common.dependencies import AwsClientsDep
from pcm_aws_common.ids import READ
from pcm_aws_common.schemas import ApiCallCountOut
from pcm_ops.security import require

router = APIRouter()


@router.get(
    "/metrics/api-calls",
    response_model=list[ApiCallCountOut],
    summary="AWS API calls made by this process, by service and operation",
    dependencies=[require(READ)],
)
async def api_calls(aws: AwsClientsDep) -> Any:
    return [
        ApiCallCountOut(service=c.service, operation=c.operation, calls=c.calls, errors=c.errors)
        for c in aws.api_calls.snapshot()
    ]
