"""Live events: ids that only increase, Server-Sent Events, resuming with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a ``text/event-stream`` body into events (comments and ``retry:`` skipped)."""
    event: dict[str, Any] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


def parse(text: str) -> list[dict[str, Any]]:
    events, event = [], {}
    for line in text.split("\n"):
        if line == "":
            if "data" in event:
                events.append(event)
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")
    return events


async def _admin_token(settings: Any) -> str:
    from pcm_ops.db.engine import Database
    from pcm_ops.security.tokens import create_token
    from pcm_ops.security.users import create_user

    database = Database(settings)
    try:
        async with database.session() as session:
            user = await create_user(session, "alice", "alice password 123", "admin")
            issued = await create_token(
                session, user, "all", ["core:jobs.read"], frozenset({"core:jobs.read"}), 1
            )
    finally:
        await database.dispose()
    return issued.raw


def test_a_client_that_reconnects_with_last_event_id_gets_every_event_exactly_once(
    kit: Any, work_dir: Path, job_settings: Any, registry: Any
) -> None:
    """The publisher is a worker process; the reader the API of this (test) process."""
    worker = kit.worker("worker-events", wait=False)
    base = kit.serve_here(registry)
    kit.wait_ready(worker)
    token = asyncio.run(_admin_token(job_settings))
    job_id = kit.enqueue("jobs-test.chatty", "jobs-test.work", str(work_dir), 5)
    url = f"{base}/api/jobs/{job_id}/events"
    headers = {"Authorization": f"Bearer {token}"}
    received: list[int] = []

    with httpx.Client(timeout=httpx.Timeout(30.0)) as client:
        with client.stream("GET", url, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in sse_events(response):
                received.append(int(event["id"]))
                if len(received) == 5:
                    break  # the client goes away

        # Published while nobody listened:
        (work_dir / "a.release").touch()
        kit.wait_until(lambda: kit.lines(work_dir / "b.reached"), 30, "the second phase")

        ended = None
        with client.stream("GET", url, headers={**headers, "Last-Event-ID": "5"}) as response:
            for event in sse_events(response):
                if event.get("event") == "end":
                    ended = json.loads(event["data"])
                    break
                received.append(int(event["id"]))
                if int(event["id"]) == 10:
                    (work_dir / "b.release").touch()  # the rest arrives live

    assert received == list(range(1, 16))
    assert ended == {"state": "succeeded"}


@SQLITE
async def test_events_of_a_finished_job_are_sent_from_after_then_end(
    running_app: Any, work_dir: Path
) -> None:
    from pcm_ops.jobs import enqueue_async

    job_id = await enqueue_async("jobs-test.chatty", str(work_dir), 2, queue="jobs-test.work")
    (work_dir / "a.release").touch()
    (work_dir / "b.release").touch()
    await running_app.wait_for_state(job_id, "succeeded")

    response = await running_app.client.get(
        f"/api/jobs/{job_id}/events?after=4", headers=running_app.auth("vera")
    )

    events = parse(response.text)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert [(e["id"], e["event"]) for e in events[:-1]] == [("5", "tick"), ("6", "tick")]
    assert json.loads(events[0]["data"])["data"] == {"n": 5}
    assert (events[-1]["event"], json.loads(events[-1]["data"])) == ("end", {"state": "succeeded"})
    assert "id" not in events[-1]  # the end does not move the client's last event id
    assert response.text.startswith("retry: ")


@SQLITE
async def test_last_event_id_wins_over_after(running_app: Any) -> None:
    from pcm_ops.jobs import publish_async

    for number in range(1, 4):
        await publish_async("jobs-test:thing:1", "tick", {"n": number})

    response = await running_app.client.get(
        "/api/tools/test/jobs/things/1/events?after=0",
        headers={**running_app.auth("alice"), "Last-Event-ID": "2"},
    )

    assert [e.get("id") for e in parse(response.text)] == ["3", None]


@SQLITE
async def test_a_malformed_last_event_id_is_refused(running_app: Any) -> None:
    response = await running_app.client.get(
        "/api/tools/test/jobs/things/1/events",
        headers={**running_app.auth("alice"), "Last-Event-ID": "yesterday"},
    )

    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["detail"]


@SQLITE
async def test_a_plugin_stream_is_behind_the_plugins_own_permission(running_app: Any) -> None:
    response = await running_app.client.get(
        "/api/tools/test/jobs/things/1/events", headers=running_app.auth("vera")
    )

    assert response.status_code == 403
    assert "jobs-test:things.read" in response.json()["detail"]


async def test_event_ids_increase_by_one_per_stream(running_app: Any) -> None:
    from pcm_ops.jobs import publish_async

    first = [await publish_async("jobs-test:thing:a", "tick") for _ in range(3)]
    other = await publish_async("jobs-test:thing:b", "tick")
    more = await asyncio.gather(*(publish_async("jobs-test:thing:a", "tick") for _ in range(5)))

    assert first == [1, 2, 3]
    assert other == 1
    assert sorted(more) == [4, 5, 6, 7, 8]


@SQLITE
async def test_a_stream_sends_keep_alive_comments_while_idle(running_app: Any) -> None:
    from pcm_ops.jobs.sse import event_stream_response

    class FakeRequest:
        app = running_app.app
        headers: dict[str, str] = {}

    response = event_stream_response(FakeRequest(), "jobs-test:thing:quiet")  # type: ignore[arg-type]
    chunks = response.body_iterator
    first = await chunks.__anext__()
    second = await asyncio.wait_for(chunks.__anext__(), timeout=5)  # keep-alive is 1 s here
    await chunks.aclose()

    assert first.startswith("retry: ")
    assert second == ": keep-alive\n\n"


@pytest.mark.parametrize(
    ("stream", "event_type", "data", "error"),
    [
        ("has space", "tick", None, ValueError),
        ("jobs-test:x", "two\nlines", None, ValueError),
        ("jobs-test:x", "tick", {"when": object()}, TypeError),
    ],
)
async def test_publish_refuses_what_sse_cannot_carry(
    stream: str, event_type: str, data: Any, error: type[Exception]
) -> None:
    from pcm_ops.jobs import publish_async

    with pytest.raises(error):
        await publish_async(stream, event_type, data)


async def test_publish_many_appends_events_in_one_go_with_consecutive_ids(
    running_app: Any,
) -> None:
    from pcm_ops.jobs import publish_async, publish_many_async

    first = await publish_async("jobs-test:thing:41", "tick", {"n": 0})
    ids = await publish_many_async(
        "jobs-test:thing:41", [("tick", {"n": 1}), ("tock", {"n": 2}), ("tick", {"n": 3})]
    )
    after = await publish_async("jobs-test:thing:41", "tick", {"n": 4})
    nothing = await publish_many_async("jobs-test:thing:41", [])

    response = await running_app.client.get(
        "/api/tools/test/jobs/things/41/events?after=0", headers=running_app.auth("alice")
    )
    events = [e for e in parse(response.text) if "id" in e]
    assert (first, ids, after, nothing) == (1, [2, 3, 4], 5, [])
    assert [(e["id"], e["event"], json.loads(e["data"])["data"]["n"]) for e in events] == [
        ("1", "tick", 0),
        ("2", "tick", 1),
        ("3", "tock", 2),
        ("4", "tick", 3),
        ("5", "tick", 4),
    ]


async def test_publish_many_refuses_a_bad_event_and_publishes_none_of_them(
    running_app: Any,
) -> None:
    from pcm_ops.db.engine import Database
    from pcm_ops.jobs import publish_many_async
    from pcm_ops.jobs.events import last_event_id

    with pytest.raises(TypeError):
        await publish_many_async(
            "jobs-test:thing:bad", [("tick", {"n": 1}), ("tick", {"when": object()})]
        )
    with pytest.raises(ValueError, match="event type"):
        await publish_many_async("jobs-test:thing:bad", [("tick", None), ("two words", None)])

    database = Database(running_app.settings)
    try:
        assert await last_event_id(database.engine, "jobs-test:thing:bad") == 0
    finally:
        await database.dispose()


async def test_publish_many_with_a_step_key_publishes_nothing_twice(running_app: Any) -> None:
    """What a step that runs again after a crash does: the same key, the same ids, and the
    events stored once."""
    from pcm_ops.jobs import events as events_module

    publisher = events_module._running_publisher()
    # The publisher takes data as JSON text (publish_many checks and encodes it).
    batch = [("tick", '{"n": 1}'), ("tick", '{"n": 2}')]
    first = publisher.publish_many("jobs-test:thing:42", batch, "wf/7/0")
    again = publisher.publish_many("jobs-test:thing:42", batch, "wf/7/0")
    other = publisher.publish_many("jobs-test:thing:42", batch, "wf/7/1")

    response = await running_app.client.get(
        "/api/tools/test/jobs/things/42/events?after=0", headers=running_app.auth("alice")
    )
    assert (first, again, other) == ([1, 2], [1, 2], [3, 4])
    assert [e["id"] for e in parse(response.text) if "id" in e] == ["1", "2", "3", "4"]
    assert [json.loads(e["data"])["data"] for e in parse(response.text) if "id" in e] == [
        {"n": 1},
        {"n": 2},
    ] * 2
