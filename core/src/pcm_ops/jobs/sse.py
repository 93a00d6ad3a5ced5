"""Serving event streams as Server-Sent Events, live, across processes.

Each server process has one :class:`EventHub`. Every open stream subscribes to it and
sleeps until the hub says its stream may have news; then it reads the events it has not
sent yet from the database. The database is the only source of truth, so what a client
receives does not depend on which process published or which process serves it:

* a publish in the same process wakes the stream at once;
* on PostgreSQL, ``LISTEN pcm_job_events`` wakes it when any process publishes;
* on SQLite, a loopback datagram from the publishing process wakes it
  (:mod:`pcm_ops.jobs.wakeups`);
* one poller per process (``jobs_event_poll_seconds``, one query per interval however many
  streams are open) notices events of other processes by the growing global event id: the
  safety net for a wake-up that did not arrive;
* at the latest after ``jobs_sse_keepalive_seconds`` the stream looks anyway, and writes a
  comment line so that proxies do not close an idle connection.

A stream queries the database only when woken and once per keep-alive period, so N idle
streams cost the poller's one query per interval, not N.

Every event carries its id; a client that reconnects with ``Last-Event-ID`` (browsers do it
by themselves) or ``?after=<id>`` gets the events after that id, then the live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pcm_ops.jobs.events import (
    NOTIFY_CHANNEL,
    Event,
    add_local_listener,
    last_event_id,
    read_events,
    remove_local_listener,
)
from pcm_ops.jobs.wakeups import Listener, libpq_dsn, wakeup_directory

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.responses import StreamingResponse

    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")

#: How long a browser waits before reconnecting a stream that broke, in milliseconds.
RECONNECT_MILLISECONDS = 2000
#: Events read from the database at a time.
BATCH = 500
#: How often a stream with an ``is_finished`` check asks whether it is over, in seconds.
FINISH_CHECK_SECONDS = 1.0

IsFinished = Callable[[], Awaitable[Any]]


class _Subscription:
    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.news = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Wait until the stream may have news (True) or ``seconds`` pass (False)."""
        try:
            await asyncio.wait_for(self.news.wait(), seconds)
        except TimeoutError:
            return False
        return True


class EventHub:
    """Wakes the open event streams of this process when their stream may have news."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self._subscriptions: dict[str, set[_Subscription]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_id: int | None = None
        self._loopback: Listener | None = None

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the poller (and on PostgreSQL the listener) in the running event loop."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        add_local_listener(self._wake_threadsafe)
        self._tasks.append(asyncio.create_task(self._poll(), name="pcm-ops-events-poll"))
        if not self.settings.is_sqlite:
            self._tasks.append(asyncio.create_task(self._listen(), name="pcm-ops-events-listen"))
        else:
            directory = wakeup_directory(self.settings.effective_database_url)
            if directory is not None:
                self._loopback = Listener(directory, self.wake)
                self._tasks.append(
                    asyncio.create_task(self._listen_loopback(), name="pcm-ops-events-wakeups")
                )

    async def stop(self) -> None:
        remove_local_listener(self._wake_threadsafe)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._loop = None

    # -- subscribing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self, stream: str) -> Any:
        subscription = _Subscription(stream)
        self._subscriptions.setdefault(stream, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscriptions.get(stream)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[stream]

    def wake(self, stream: str) -> None:
        for subscription in self._subscriptions.get(stream, ()):
            subscription.news.set()

    def wake_all(self) -> None:
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.news.set()

    def _wake_threadsafe(self, stream: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.wake, stream)

    # -- finding news ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        """Wake streams that got events from other processes, while anyone is listening."""
        from sqlalchemy import func, select

        from pcm_ops.jobs.models import StreamEvent, table_of

        table = table_of(StreamEvent)
        interval = self.settings.jobs_event_poll_seconds
        while True:
            await asyncio.sleep(interval)
            if self._loopback is not None:
                self._loopback.ensure_registered()
            if not self._subscriptions:
                self._last_id = None
                continue
            try:
                async with self.engine.connect() as connection:
                    if self._last_id is None:
                        newest = (await connection.execute(select(func.max(table.c.id)))).scalar()
                        self._last_id = int(newest or 0)
                        self.wake_all()  # anything up to here: each stream reads it itself
                        continue
                    rows = (
                        await connection.execute(
                            select(table.c.id, table.c.stream)
                            .where(table.c.id > self._last_id)
                            .order_by(table.c.id)
                            .limit(1000)
                        )
                    ).all()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the table does not exist before migrations
                logger.debug("event poll failed: %s", exc)
                continue
            for row in rows:
                self._last_id = max(self._last_id, int(row.id))
                self.wake(row.stream)

    async def _listen_loopback(self) -> None:
        """SQLite: wake a stream when another process rings (see :mod:`pcm_ops.jobs.wakeups`)."""
        assert self._loopback is not None
        try:
            await self._loopback.start()
        except OSError as exc:
            logger.warning("no event wake-ups from other processes (%s); polling only", exc)
            return
        try:
            await asyncio.Event().wait()  # until stopped
        finally:
            self._loopback.stop()

    async def _listen(self) -> None:
        """PostgreSQL: wake a stream as soon as any process publishes to it."""
        import psycopg

        dsn = libpq_dsn(self.settings.effective_database_url)
        backoff = 1.0
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
                async with connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.wake_all()  # news may have come while we were not listening
                    backoff = 1.0
                    async for notification in connection.notifies():
                        self.wake(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning(
                    "listening for job events failed (%s); polling meanwhile, retrying in %.0f s",
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)


def hub_for(app: FastAPI) -> EventHub:
    """The application's hub, started on first use (the lifespan starts it normally)."""
    hub: EventHub | None = getattr(app.state, "job_event_hub", None)
    if hub is None:
        hub = EventHub(app.state.settings, app.state.database.engine)
        app.state.job_event_hub = hub
    hub.start()
    return hub


# -------------------------------------------------------------------------------------------
# The response
# -------------------------------------------------------------------------------------------


def _format(event: Event) -> str:
    data = json.dumps(event.as_json(), separators=(",", ":"), default=str)
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


def _resume_point(request: Request, after: int | None) -> int:
    from fastapi import HTTPException

    header = request.headers.get("last-event-id")
    if header is not None and header.strip():
        try:
            value = int(header.strip())
        except ValueError:
            value = -1
        if value < 0:
            raise HTTPException(
                status_code=400,
                detail="Last-Event-ID must be the id of an event of this stream (an integer >= 0)",
            )
        return value
    return after or 0


async def _events(
    request: Request,
    stream: str,
    after: int,
    is_finished: IsFinished | None,
) -> AsyncIterator[str]:
    app = request.app
    hub = hub_for(app)
    engine = app.state.database.engine
    keepalive = app.state.settings.jobs_sse_keepalive_seconds
    # Nothing tells a stream that its job finished: with is_finished, look every second.
    wait_seconds = min(keepalive, FINISH_CHECK_SECONDS) if is_finished else keepalive
    clock = asyncio.get_running_loop().time
    with hub.subscribe(stream) as subscription:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        last_write = clock()
        if after > 0 and after > await last_event_id(engine, stream):
            # An id from a stream that retention has forgotten since: start it over.
            after = 0
        look = True
        while True:
            events: list[Event] = []
            if look:
                subscription.news.clear()
                events = await read_events(engine, stream, after, BATCH)
            for event in events:
                yield _format(event)
                after = event.seq
                last_write = clock()
            if len(events) == BATCH:
                continue
            if is_finished is not None:
                finished = await is_finished()
                if finished:
                    # Whatever the job published is committed by now: send the rest.
                    while events := await read_events(engine, stream, after, BATCH):
                        for event in events:
                            yield _format(event)
                            after = event.seq
                    payload = finished if isinstance(finished, dict) else {}
                    yield f"event: end\ndata: {json.dumps(payload, default=str)}\n\n"
                    return
            woke = await subscription.wait(wait_seconds)
            look = woke
            if not woke and clock() - last_write >= keepalive:
                yield ": keep-alive\n\n"
                last_write = clock()
                # Once per keep-alive period a stream looks without being woken: the last
                # safety net (a PostgreSQL id committed after a larger one escapes the poller).
                look = True


def event_stream_response(
    request: Request,
    stream: str,
    *,
    after: int | None = None,
    is_finished: IsFinished | None = None,
) -> StreamingResponse:
    """Serve ``stream`` to this request as Server-Sent Events, from where the client is.

    Use it in a route of your own, after your own permission check (the route's
    ``require(...)`` dependency)::

        @router.get("/executions/{execution_id}/events",
                    dependencies=[require("aws-script-runner:executions.read")])
        async def execution_events(execution_id: int, request: Request,
                                   after: int | None = None):
            return event_stream_response(
                request, f"aws-script-runner:execution:{execution_id}", after=after)

    Each event is sent as ``id: <n>``, ``event: <type>`` and ``data: {"id": n, "type": ...,
    "at": <ISO time>, "data": <what was published>}``. The client's ``Last-Event-ID`` header
    wins over ``after`` (browsers send it when they reconnect by themselves).

    :param after: send events with a larger id only (the route's ``?after=``).
    :param is_finished: an async function; when it returns something true after every
        event has been sent, the stream sends ``event: end`` (with the returned value as
        data, if it is a dict) and closes, so that clients know to stop. Without it the
        stream stays open until the client leaves.
    :raises fastapi.HTTPException: 400 for a ``Last-Event-ID`` that is not an integer.
    """
    from starlette.responses import StreamingResponse

    start = _resume_point(request, after)
    return StreamingResponse(
        _events(request, stream, start, is_finished),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            # nginx and similar buffer responses unless told not to.
            "X-Accel-Buffering": "no",
        },
    )


__all__ = ["EventHub", "event_stream_response", "hub_for"]
