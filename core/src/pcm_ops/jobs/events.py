"""Event streams: publishing events durably, with ids that only increase, from any process.

A stream is named by whoever publishes to it: ``job:<job id>`` for a job's own stream (see
:func:`publish_job_event`), ``<plugin-id>:<anything>`` for a plugin's objects
(``aws-script-runner:execution:42``). Each event gets the next sequence number of its
stream, 1, 2, 3..., which is its Server-Sent Events id; publishers lock the stream's row
while they insert, so numbers are handed out in commit order and a reader that has seen
event ``n`` never finds a new event below ``n`` later.

Publishing from a workflow is durable: called in workflow code (outside a step) it runs as
a DBOS step of its own, so replaying the workflow after a crash does not publish it again;
called inside a step it carries a key made of the workflow id, the step id and its position
in the step, so a step that runs again after a crash publishes nothing twice.

On PostgreSQL every publish also sends ``NOTIFY pcm_job_events, '<stream>'``, which wakes
the event streams of every server process at once; on SQLite, once committed, it sends the
stream's name in a loopback datagram to the other processes that serve streams on the same
file (:mod:`pcm_ops.jobs.wakeups`). Listeners in the publishing process are woken directly.
Either way a poller in each server (:mod:`pcm_ops.jobs.sse`) is the safety net.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pcm_ops.jobs.errors import JobsError
from pcm_ops.jobs.names import job_stream

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

    from pcm_ops.jobs.wakeups import Doorbell
    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")

#: The PostgreSQL notification channel; the payload is the stream's name.
NOTIFY_CHANNEL = "pcm_job_events"

_STREAM = re.compile(r"^[A-Za-z0-9][\x21-\x7e]{0,254}$")
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


@dataclass(frozen=True)
class Event:
    """One published event. ``seq`` is its id within its stream (and its SSE id)."""

    stream: str
    seq: int
    type: str
    data: Any
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.seq,
            "type": self.type,
            "at": self.created_at.isoformat(),
            "data": self.data,
        }


# -------------------------------------------------------------------------------------------
# The publisher of this process
# -------------------------------------------------------------------------------------------


class _Publisher:
    """Writes events through a synchronous engine on the application database."""

    def __init__(self, engine: Engine, is_postgres: bool, doorbell: Doorbell | None) -> None:
        self.engine = engine
        self.is_postgres = is_postgres
        self.doorbell = doorbell
        self._insert: Any = None

    def _insert_events(self) -> Any:
        """The ``INSERT`` of events whose data is JSON text already (:func:`_check`): stored
        as it is on SQLite (where JSON is text), cast to ``json`` on PostgreSQL. Built once."""
        if self._insert is None:
            from sqlalchemy import JSON, Text, bindparam, cast

            from pcm_ops.jobs.models import StreamEvent, table_of

            data: Any = bindparam("data", type_=Text())
            if self.is_postgres:
                data = cast(data, JSON)
            self._insert = (
                table_of(StreamEvent)
                .insert()
                .values(
                    stream=bindparam("stream"),
                    seq=bindparam("seq"),
                    type=bindparam("type"),
                    data=data,
                    dedupe_key=bindparam("dedupe_key"),
                    created_at=bindparam("created_at"),
                )
            )
        return self._insert

    def publish(self, stream: str, type_: str, data: str, dedupe_key: str | None) -> int:
        return self.publish_many(stream, [(type_, data)], dedupe_key)[0]

    def publish_many(
        self, stream: str, events: Sequence[tuple[str, str]], dedupe_key: str | None
    ) -> list[int]:
        """Append ``events`` (``(type, data as JSON text)``, from :func:`_check`) to
        ``stream`` in one transaction; their ids, in order.

        ``dedupe_key`` is the first event's key; the others get ``<key>+1``, ``<key>+2``...
        Either all of them were committed before (their ids are returned) or none was.
        """
        from sqlalchemy import select, update
        from sqlalchemy.exc import IntegrityError

        from pcm_ops.db.types import utcnow
        from pcm_ops.jobs.models import EventStream, StreamEvent, table_of

        streams = table_of(EventStream)
        events_table = table_of(StreamEvent)
        now = utcnow()
        count = len(events)
        keys = (
            [None] * count
            if dedupe_key is None
            else [dedupe_key if i == 0 else f"{dedupe_key}+{i}" for i in range(count)]
        )
        for _attempt in range(3):
            try:
                with self.engine.begin() as connection:
                    self._ensure_stream(connection, stream, now)
                    # The row lock taken here serializes publishers of this stream until
                    # commit, so sequence numbers become visible in increasing order.
                    last = connection.execute(
                        update(streams)
                        .where(streams.c.name == stream)
                        .values(last_seq=streams.c.last_seq + count, updated_at=now)
                        .returning(streams.c.last_seq)
                    ).scalar_one()
                    if dedupe_key is not None:
                        # One transaction wrote them all: the first key tells for every one.
                        existing = connection.execute(
                            select(events_table.c.seq).where(
                                events_table.c.stream == stream,
                                events_table.c.dedupe_key == dedupe_key,
                            )
                        ).scalar_one_or_none()
                        if existing is not None:
                            raise _AlreadyPublished(existing)
                    first = int(last) - count + 1
                    connection.execute(
                        self._insert_events(),
                        [
                            {
                                "stream": stream,
                                "seq": first + i,
                                "type": type_,
                                "data": data,
                                "dedupe_key": keys[i],
                                "created_at": now,
                            }
                            for i, (type_, data) in enumerate(events)
                        ],
                    )
                    if self.is_postgres:
                        from sqlalchemy import func

                        connection.execute(select(func.pg_notify(NOTIFY_CHANNEL, stream)))
            except _AlreadyPublished as already:
                return list(range(already.seq, already.seq + count))
            except IntegrityError:
                # Two first publishers created the stream row at once; the loser retries.
                logger.debug("retrying publish to %s after a conflict", stream, exc_info=True)
                continue
            _wake_local_listeners(stream)
            if self.doorbell is not None:
                self.doorbell.ring(stream)
            return list(range(first, first + count))
        raise JobsError(f"could not publish to stream {stream!r}: it kept conflicting")

    def close(self) -> None:
        self.engine.dispose()
        if self.doorbell is not None:
            self.doorbell.close()

    def _ensure_stream(self, connection: Connection, stream: str, now: datetime) -> None:
        from pcm_ops.jobs.models import EventStream, table_of

        table = table_of(EventStream)
        values = {"name": stream, "last_seq": 0, "updated_at": now}
        if self.is_postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            connection.execute(pg_insert(table).values(values).on_conflict_do_nothing())
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            connection.execute(sqlite_insert(table).values(values).on_conflict_do_nothing())


class _AlreadyPublished(Exception):
    def __init__(self, seq: int) -> None:
        self.seq = int(seq)


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()
_local_listeners: list[Callable[[str], None]] = []


def configure(settings: Settings) -> None:
    """Make this process publish to ``settings``' database. The job engine calls it when it
    starts; call it yourself only in a process that publishes without running the engine."""
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.jobs.wakeups import Doorbell, wakeup_directory

    global _publisher
    directory = wakeup_directory(settings.effective_database_url)
    with _publisher_lock:
        if _publisher is not None:
            _publisher.close()
        _publisher = _Publisher(
            create_sync_engine(settings),
            is_postgres=not settings.is_sqlite,
            doorbell=Doorbell(directory) if directory is not None else None,
        )


def unconfigure() -> None:
    """Forget the publisher (the engine calls it when it stops)."""
    global _publisher
    with _publisher_lock:
        if _publisher is not None:
            _publisher.close()
        _publisher = None


def configured_engine() -> Engine | None:
    """The synchronous engine on the application database that publishing uses in this
    process, or ``None`` when publishing is not configured here."""
    publisher = _publisher
    return publisher.engine if publisher is not None else None


def add_local_listener(listener: Callable[[str], None]) -> None:
    """Call ``listener(stream)`` (from any thread) after each publish in this process."""
    _local_listeners.append(listener)


def remove_local_listener(listener: Callable[[str], None]) -> None:
    if listener in _local_listeners:
        _local_listeners.remove(listener)


def _wake_local_listeners(stream: str) -> None:
    for listener in list(_local_listeners):
        try:
            listener(stream)
        except Exception:  # a listener's problem must not fail the publisher
            logger.debug("event listener failed", exc_info=True)


# -------------------------------------------------------------------------------------------
# Publishing
# -------------------------------------------------------------------------------------------


def _check(stream: str, type_: str, data: Any) -> str:
    """Check an event; return its data as JSON text (what the publisher stores: the data is
    encoded once, here, not again by the column's type)."""
    if not isinstance(stream, str) or not _STREAM.match(stream):
        raise ValueError(
            f"stream name {stream!r} must be 1 to 255 printable characters without spaces, "
            "starting with a letter or digit (e.g. 'my-plugin:execution:42')"
        )
    if not isinstance(type_, str) or not _TYPE.match(type_):
        raise ValueError(
            f"event type {type_!r} must be 1 to 100 letters, digits and _ . : - "
            "(e.g. 'step.finished')"
        )
    try:
        return json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"event data must be JSON-serialisable: {exc}") from None


def _workflow_position() -> tuple[str, int | None, Any] | None:
    """``(workflow id, step id or None, step status)`` when called inside a DBOS workflow.

    DBOS is looked up in ``sys.modules`` instead of imported: a process that never started
    the engine cannot be inside a workflow, and must not pay for importing DBOS.
    """
    dbos_module = sys.modules.get("dbos")
    if dbos_module is None:
        return None
    dbos = dbos_module.DBOS
    workflow_id = dbos.workflow_id
    if not workflow_id:
        return None
    return workflow_id, dbos.step_id, dbos.step_status


_step_counters: dict[int, int] = {}
_counter_lock = threading.Lock()


def _dedupe_key_in_step(workflow_id: str, step_id: int, step_status: Any) -> str:
    """``<workflow>/<step>/<n>`` for the n-th publish of this execution of the step.

    The counter belongs to DBOS's status object of the running step, which is new each time
    the step starts: after a crash the step starts again at 0 and repeats the same keys.
    """
    if step_status is None:
        return f"{workflow_id}/{step_id}/0"
    with _counter_lock:
        token = id(step_status)
        position = _step_counters.get(token)
        if position is None:
            position = 0
            # Forget the counter with the step (DBOS's StepStatus is not hashable, so it
            # cannot key a WeakKeyDictionary itself).
            weakref.finalize(step_status, _step_counters.pop, token, None)
        _step_counters[token] = position + 1
    return f"{workflow_id}/{step_id}/{position}"


def _running_publisher() -> _Publisher:
    publisher = _publisher
    if publisher is None:
        raise JobsError(
            "cannot publish events: the job engine is not running in this process "
            "(publish from a route of a running server or from a job, or call "
            "pcm_ops.jobs.events.configure(settings) first)"
        )
    return publisher


def _publish_now(stream: str, type_: str, data: str, dedupe_key: str | None) -> int:
    return _running_publisher().publish(stream, type_, data, dedupe_key)


def _publish_as_step(stream: str, type_: str, data: str) -> int:
    position = _workflow_position()
    assert position is not None
    workflow_id, step_id, step_status = position
    assert step_id is not None
    return _publish_now(stream, type_, data, _dedupe_key_in_step(workflow_id, step_id, step_status))


def publish(stream: str, event_type: str, data: Any = None) -> int:
    """Append an event to ``stream`` and wake its readers in every process; return its id.

    Usable anywhere the job engine runs: in a workflow, in a step (sync or async, in a
    server or a worker process), or in a route. From ``async`` code outside a workflow,
    prefer :func:`publish_async`, which does not block the event loop.

    :param stream: the stream's name: ``job:<job id>`` (see :func:`job_stream`) or
        ``<plugin-id>:<object>``.
    :param event_type: the event's type, sent as the SSE ``event:`` field (``progress``).
    :param data: JSON-serialisable data, sent as part of the SSE ``data:`` field.
    :return: the event's id in its stream (1, 2, 3, ...).
    :raises ValueError: bad stream name or type. :raises TypeError: data is not JSON.
    :raises JobsError: the job engine does not run in this process.
    """
    data = _check(stream, event_type, data)
    position = _workflow_position()
    if position is None:
        return _publish_now(stream, event_type, data, None)
    workflow_id, step_id, step_status = position
    if step_id is not None:
        return _publish_now(
            stream, event_type, data, _dedupe_key_in_step(workflow_id, step_id, step_status)
        )
    from dbos import DBOS

    # In workflow code: a step of its own, so that a replay after a crash skips it.
    result: int = DBOS.run_step(
        {"name": "pcm_ops.jobs.publish", "retries_allowed": True, "max_attempts": 5},
        _publish_as_step,
        stream,
        event_type,
        data,
    )
    return result


async def publish_async(stream: str, event_type: str, data: Any = None) -> int:
    """:func:`publish` for ``async`` code (routes, async workflows and steps)."""
    data = _check(stream, event_type, data)
    position = _workflow_position()
    if position is not None and position[1] is None:
        from dbos import DBOS

        result: int = await DBOS.run_step_async(
            {"name": "pcm_ops.jobs.publish", "retries_allowed": True, "max_attempts": 5},
            _publish_as_step,
            stream,
            event_type,
            data,
        )
        return result
    import anyio.to_thread

    if position is None:
        return await anyio.to_thread.run_sync(_publish_now, stream, event_type, data, None)
    workflow_id, step_id, step_status = position
    assert step_id is not None
    key = _dedupe_key_in_step(workflow_id, step_id, step_status)
    return await anyio.to_thread.run_sync(_publish_now, stream, event_type, data, key)


def _publish_many_now(
    stream: str, events: Sequence[tuple[str, str]], dedupe_key: str | None
) -> list[int]:
    return _running_publisher().publish_many(stream, events, dedupe_key)


def _publish_many_as_step(stream: str, events: Sequence[tuple[str, str]]) -> list[int]:
    position = _workflow_position()
    assert position is not None
    workflow_id, step_id, step_status = position
    assert step_id is not None
    key = _dedupe_key_in_step(workflow_id, step_id, step_status)
    return _publish_many_now(stream, events, key)


def _checked_events(stream: str, events: Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    """``(event type, data as JSON text)`` of each event, checked."""
    return [(event_type, _check(stream, event_type, data)) for event_type, data in events]


def publish_many(stream: str, events: Sequence[tuple[str, Any]]) -> list[int]:
    """Append several events to ``stream`` in one transaction; return their ids, in order.

    ``events`` are ``(event type, data)`` pairs, as :func:`publish` takes them. Readers see
    all of them or none, with consecutive ids, and every process is woken once for them
    all: where a step publishes many events at a time (a batch of results, say), this
    costs one transaction instead of one each. Durable like :func:`publish`: in workflow
    code it is a step of its own, in a step it is not published twice when the step runs
    again after a crash. An empty ``events`` publishes nothing and returns ``[]``.

    :raises ValueError: bad stream name or type. :raises TypeError: data is not JSON.
    :raises JobsError: the job engine does not run in this process.
    """
    checked = _checked_events(stream, events)
    if not checked:
        return []
    position = _workflow_position()
    if position is None:
        return _publish_many_now(stream, checked, None)
    workflow_id, step_id, step_status = position
    if step_id is not None:
        key = _dedupe_key_in_step(workflow_id, step_id, step_status)
        return _publish_many_now(stream, checked, key)
    from dbos import DBOS

    result: list[int] = DBOS.run_step(
        {"name": "pcm_ops.jobs.publish", "retries_allowed": True, "max_attempts": 5},
        _publish_many_as_step,
        stream,
        checked,
    )
    return result


async def publish_many_async(stream: str, events: Sequence[tuple[str, Any]]) -> list[int]:
    """:func:`publish_many` for ``async`` code (routes, async workflows and steps)."""
    checked = _checked_events(stream, events)
    if not checked:
        return []
    position = _workflow_position()
    if position is not None and position[1] is None:
        from dbos import DBOS

        result: list[int] = await DBOS.run_step_async(
            {"name": "pcm_ops.jobs.publish", "retries_allowed": True, "max_attempts": 5},
            _publish_many_as_step,
            stream,
            checked,
        )
        return result
    import anyio.to_thread

    if position is None:
        return await anyio.to_thread.run_sync(_publish_many_now, stream, checked, None)
    workflow_id, step_id, step_status = position
    assert step_id is not None
    key = _dedupe_key_in_step(workflow_id, step_id, step_status)
    return await anyio.to_thread.run_sync(_publish_many_now, stream, checked, key)


def _current_job_id() -> str:
    position = _workflow_position()
    if position is None:
        raise JobsError(
            "publish_job_event() without job_id works only inside a job (a DBOS workflow "
            "or step); pass job_id=... elsewhere"
        )
    return position[0]


def publish_job_event(event_type: str, data: Any = None, *, job_id: str | None = None) -> int:
    """Publish to a job's own stream (``GET /api/jobs/<id>/events``): by default the stream
    of the job this is called from."""
    return publish(job_stream(job_id or _current_job_id()), event_type, data)


async def publish_job_event_async(
    event_type: str,
    data: Any = None,
    *,
    job_id: str | None = None,
) -> int:
    """:func:`publish_job_event` for ``async`` code."""
    return await publish_async(job_stream(job_id or _current_job_id()), event_type, data)


# -------------------------------------------------------------------------------------------
# Reading
# -------------------------------------------------------------------------------------------


async def read_events(
    engine: AsyncEngine, stream: str, after: int = 0, limit: int = 500
) -> list[Event]:
    """The events of ``stream`` with an id above ``after``, oldest first, at most ``limit``."""
    from sqlalchemy import select

    from pcm_ops.jobs.models import StreamEvent, table_of

    table = table_of(StreamEvent)
    statement = (
        select(table.c.seq, table.c.type, table.c.data, table.c.created_at)
        .where(table.c.stream == stream, table.c.seq > after)
        .order_by(table.c.seq)
        .limit(limit)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return [Event(stream, row.seq, row.type, row.data, row.created_at) for row in rows]


async def last_event_id(engine: AsyncEngine, stream: str) -> int:
    """The id of the newest event ``stream`` has ever had (0 for a stream never used)."""
    from sqlalchemy import select

    from pcm_ops.jobs.models import EventStream, table_of

    table = table_of(EventStream)
    async with engine.connect() as connection:
        value = (
            await connection.execute(select(table.c.last_seq).where(table.c.name == stream))
        ).scalar_one_or_none()
    return int(value or 0)


def delete_streams(connection: Connection, names: Sequence[str]) -> int:
    """Delete streams and their events; return how many events went."""
    from sqlalchemy import delete

    from pcm_ops.jobs.models import EventStream, StreamEvent, table_of

    if not names:
        return 0
    events = table_of(StreamEvent)
    streams = table_of(EventStream)
    removed = connection.execute(delete(events).where(events.c.stream.in_(list(names))))
    connection.execute(delete(streams).where(streams.c.name.in_(list(names))))
    return int(removed.rowcount or 0)


__all__ = [
    "NOTIFY_CHANNEL",
    "Event",
    "add_local_listener",
    "configure",
    "configured_engine",
    "delete_streams",
    "last_event_id",
    "publish",
    "publish_async",
    "publish_job_event",
    "publish_job_event_async",
    "publish_many",
    "publish_many_async",
    "read_events",
    "remove_local_listener",
    "unconfigure",
]
