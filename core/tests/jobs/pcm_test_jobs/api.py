"""A plugin route that serves an event stream of the plugin's own, as plugins are meant to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from pcm_ops.jobs import event_stream_response
from pcm_ops.security import require

router = APIRouter()


@router.get(
    "/things/{thing_id}/events",
    response_class=StreamingResponse,
    dependencies=[require("jobs-test:things.read")],
)
async def thing_events(
    thing_id: int, request: Request, after: int | None = None, follow: bool = False
) -> StreamingResponse:
    async def finished() -> dict[str, str] | None:
        return None if follow else {"state": "done"}

    return event_stream_response(
        request, f"jobs-test:thing:{thing_id}", after=after, is_finished=finished
    )
