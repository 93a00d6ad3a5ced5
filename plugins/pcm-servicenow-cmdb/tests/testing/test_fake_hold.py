"""Held answers: a request is applied, and its answer waits until the test releases it or the
caller hangs up (the control behind the killed-worker work-note test)."""

import base64
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

TABLE = "/api/now/table/change_request"


@pytest.fixture
def background():
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def _patch(url: str, path: str, note: str) -> httpx.Response:
    # Its own connection: the held answer must not block the test's other requests.
    with httpx.Client(base_url=url, auth=(DEFAULT_USERNAME, DEFAULT_PASSWORD), timeout=10) as c:
        return c.patch(path, json={"work_notes": note})


def _until(predicate, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_held_patch_is_applied_and_answered_only_when_released(
    servicenow, changes, api, background
):
    change = changes["implement"]
    held = servicenow.hold_next_answers("PATCH")

    answer = background.submit(_patch, servicenow.url, f"{TABLE}/{change}", "the note")
    assert held.applied.wait(10)
    journal_while_held = servicenow.journal(change)
    waiting = not answer.done()
    other = api.get(f"{TABLE}/{change}")  # the fake goes on answering everyone else
    held.release()
    response = answer.result(timeout=10)

    assert journal_while_held == ["the note"]
    assert waiting
    assert other.status_code == 200
    assert response.status_code == 200
    assert response.json()["result"]["sys_id"] == change
    assert held.dropped == 0


def test_a_caller_that_hangs_up_drops_the_held_answer(servicenow, changes):
    change = changes["implement"]
    held = servicenow.hold_next_answers("PATCH")
    body = b'{"work_notes": "written, never confirmed"}'
    address = urlsplit(servicenow.url)
    caller = socket.create_connection((address.hostname, address.port), timeout=10)
    credentials = base64.b64encode(f"{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}".encode()).decode()
    caller.sendall(
        f"PATCH {TABLE}/{change} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Basic {credentials}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )

    assert held.applied.wait(10)
    caller.close()  # as a process killed with SIGKILL: the kernel closes its sockets
    _until(lambda: held.dropped == 1)

    assert servicenow.journal(change) == ["written, never confirmed"]
    assert not held.released


def test_only_the_given_method_and_number_of_requests_are_held(
    servicenow, changes, api, background
):
    change = changes["implement"]
    held = servicenow.hold_next_answers("PATCH", times=1)

    assert api.get(f"{TABLE}/{change}").status_code == 200  # a GET is not held
    first = background.submit(_patch, servicenow.url, f"{TABLE}/{change}", "held")
    assert held.applied.wait(10)
    second = _patch(servicenow.url, f"{TABLE}/{change}", "answered at once")
    held.release()

    assert second.status_code == 200
    assert first.result(timeout=10).status_code == 200
    assert held.held == 1
    assert servicenow.journal(change) == ["held", "answered at once"]


def test_a_refused_request_is_answered_at_once_and_not_held(servicenow, api):
    held = servicenow.hold_next_answers("PATCH")

    missing = api.patch(f"{TABLE}/{'0' * 32}", json={"work_notes": "lost"})

    assert missing.status_code == 404
    assert held.held == 0
    assert not held.applied.is_set()


def test_reset_releases_held_answers(servicenow, changes, background):
    change = changes["implement"]
    held = servicenow.hold_next_answers("PATCH")
    answer = background.submit(_patch, servicenow.url, f"{TABLE}/{change}", "the note")
    assert held.applied.wait(10)

    servicenow.reset()

    assert held.released
    assert answer.result(timeout=10).status_code == 200


def test_hold_next_answers_needs_at_least_one(servicenow):
    with pytest.raises(ValueError, match="times >= 1"):
        servicenow.hold_next_answers("PATCH", times=0)
