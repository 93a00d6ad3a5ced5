"""``/api/jobs``: background jobs of core and every plugin; their live events; cancelling."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from pcm_ops import audit
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import Int32, Offset
from pcm_ops.jobs.service import STATES, JobInfo
from pcm_ops.security.auth import require
from pcm_ops.security.principal import Principal

router = APIRouter(prefix="/api/jobs", tags=["core"])

_STATE_PATTERN = "^(" + "|".join(STATES) + ")$"

#: A job id: printable ASCII without spaces (``aws-script-runner:3f2a...``).
JobId = Annotated[str, Path(pattern=r"^[!-~]{1,255}$", description="The job's id.")]


class StepOut(BaseModel):
    id: int
    name: str
    state: str = Field(description="running, succeeded or failed")
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    child_job_id: str | None


class JobOut(BaseModel):
    id: str
    plugin: str | None = Field(description="The plugin that owns the job (`core` for core).")
    name: str = Field(description="The workflow's name.")
    state: str = Field(description="queued, running, succeeded, failed or cancelled")
    queue: str | None
    partition_key: str | None
    executor_id: str | None = Field(description="The process that runs (or ran) the job.")
    parent_id: str | None = Field(description="The job that started this one, if any.")
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class JobDetailOut(JobOut):
    result: Any = Field(default=None, description="What the job returned, when JSON can hold it.")
    steps: list[StepOut]
    events_url: str = Field(description="The job's live events, as Server-Sent Events.")


class JobPage(BaseModel):
    jobs: list[JobOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page.")


def _job_out(job: JobInfo) -> dict[str, Any]:
    return {
        "id": job.id,
        "plugin": job.owner,
        "name": job.name,
        "state": job.state.value,
        "queue": job.queue,
        "partition_key": job.partition_key,
        "executor_id": job.executor_id,
        "parent_id": job.parent_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.error,
    }


def _json_or_none(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


async def _store(request: Request) -> Any:
    """The application's job store (the engine's, or one of its own when the lifespan has
    not started the engine, as in tests that serve the app without it)."""
    engine = getattr(request.app.state, "job_engine", None)
    if engine is not None:
        return engine.store()
    store = getattr(request.app.state, "job_store", None)
    if store is None:
        from pcm_ops.jobs.service import JobStore

        store = JobStore(request.app.state.settings)
        request.app.state.job_store = store
    return store


async def _run(request: Request, method: str, *args: Any, **kwargs: Any) -> Any:
    import anyio.to_thread

    from pcm_ops.jobs.errors import JobAlreadyFinished, JobNotFound, JobsError

    store = await _store(request)
    try:
        return await anyio.to_thread.run_sync(lambda: getattr(store, method)(*args, **kwargs))
    except JobNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except JobAlreadyFinished as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except JobsError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None


@router.get("", response_model=JobPage, summary="Background jobs, newest first")
async def list_jobs(
    request: Request,
    _: Annotated[Principal, require("core:jobs.read")],
    plugin: Annotated[
        str | None,
        Query(pattern="^[a-z][a-z0-9-]*$", description="Only jobs of this plugin (or `core`)."),
    ] = None,
    state: Annotated[str | None, Query(pattern=_STATE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> Any:
    jobs = await _run(request, "find", owner=plugin, state=state, limit=limit, offset=offset)
    return JobPage(
        jobs=[JobOut(**_job_out(job)) for job in jobs],
        next_offset=offset + limit if len(jobs) == limit else None,
    )


@router.get("/{job_id}", response_model=JobDetailOut, summary="One job, with its steps")
async def read_job(
    job_id: JobId, request: Request, _: Annotated[Principal, require("core:jobs.read")]
) -> Any:
    job = await _run(request, "get", job_id)
    return JobDetailOut(
        **_job_out(job),
        result=_json_or_none(job.result),
        steps=[StepOut(**vars(step)) for step in job.steps],
        events_url=str(request.url_for("job_events", job_id=job_id).path),
    )


@router.post(
    "/{job_id}/cancel", response_model=JobOut, summary="Cancel a job: it stops before its next step"
)
async def cancel_job(
    job_id: JobId,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require("core:jobs.cancel")],
) -> Any:
    from pcm_ops.jobs.names import owner_of

    job = await _run(request, "cancel", job_id)
    await audit.record(
        session,
        request,
        "core.job.cancel",
        object_type="job",
        object_id=job_id,
        details={"plugin": owner_of(job_id), "name": job.name},
    )
    return JobOut(**_job_out(job))


@router.get(
    "/{job_id}/events",
    name="job_events",
    response_class=StreamingResponse,
    summary="A job's live events (Server-Sent Events)",
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`id:` on every event; resume with `Last-Event-ID` or `?after=`. "
            "Ends with `event: end` once the job has finished and every event was sent.",
        },
        404: {"description": "No such job."},
    },
)
async def job_events(
    job_id: JobId,
    request: Request,
    _: Annotated[Principal, require("core:jobs.read")],
    after: Annotated[Int32 | None, Query(ge=0, description="Send events after this id.")] = None,
) -> StreamingResponse:
    from pcm_ops.jobs.names import job_stream
    from pcm_ops.jobs.sse import event_stream_response

    await _run(request, "get", job_id, with_steps=False)

    async def finished() -> dict[str, str] | None:
        try:
            job = await _run(request, "get", job_id, with_steps=False)
        except HTTPException as exc:
            if exc.status_code == 404:  # deleted while streaming
                return {"state": "deleted"}
            raise
        return {"state": job.state.value} if job.state.finished else None

    return event_stream_response(request, job_stream(job_id), after=after, is_finished=finished)
