"""The example plugin's JSON API, under ``/api/tools/aws/example``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from pcm_ops.security import require
from web_example_plugin import VIEW

router = APIRouter(dependencies=[require(VIEW)])


@router.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    if item_id != 1:
        raise HTTPException(status_code=404, detail=f"no item {item_id}")
    return {"id": item_id}


@router.get("/boom")
async def boom() -> dict[str, str]:
    raise RuntimeError("secret internals of the API")
