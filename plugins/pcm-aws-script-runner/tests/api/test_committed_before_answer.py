"""A 2xx answer means the write is committed: the next request, on any connection, sees it,
and a commit that fails is an error answer, never a 2xx.

These run over real HTTP (uvicorn): in-process (``httpx.ASGITransport``) the client only
gets the response once the whole application call has returned, which hides a commit
that runs after the response was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from pcm_ops.api.deps import get_session
from pcm_ops.routes import effective_routes
from pcm_ops.testing import serve

API = "/api/tools/aws/script-runner"
PAGES = "/tools/aws/script-runner"
TRIES = 10


@pytest.fixture
async def live(pcm_running_app: Any) -> Any:
    async with serve(pcm_running_app) as url:
        yield url


@pytest.fixture
def slow_commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A commit that writes takes 100 ms longer, as on a busy database (an fsync, a replica
    to wait for): a commit that runs after the response was sent is then reliably late.
    Read-only sessions (authentication's, the reader's) stay fast."""
    from sqlmodel.ext.asyncio.session import AsyncSession

    def wrote(session: Session, _context: Any) -> None:
        session.info["wrote"] = True

    commit = AsyncSession.commit

    async def slow_commit(self: AsyncSession) -> None:
        if self.sync_session.info.pop("wrote", False):
            await asyncio.sleep(0.1)
        await commit(self)

    monkeypatch.setattr(AsyncSession, "commit", slow_commit)
    event.listen(Session, "after_flush", wrote)
    try:
        yield
    finally:
        event.remove(Session, "after_flush", wrote)


@pytest.fixture
def failing_commits() -> Iterator[list[str]]:
    """Make every commit of a session that wrote script rows fail, as a database that
    refuses the commit would (a serialization failure, a full disk, a lost connection).
    Yields the tables whose commit was made to fail."""
    failed: list[str] = []

    def remember(session: Session, _context: Any, _instances: Any) -> None:
        tables = {type(obj).__tablename__ for obj in (*session.new, *session.dirty)}
        if tables & {"aws_sr_script", "aws_sr_script_version"}:
            session.info["fail_commit"] = sorted(tables)

    def refuse(session: Session) -> None:
        tables = session.info.pop("fail_commit", None)
        if tables:
            failed.extend(tables)
            raise RuntimeError("the test made this commit fail")

    event.listen(Session, "before_flush", remember)
    event.listen(Session, "before_commit", refuse)
    try:
        yield failed
    finally:
        event.remove(Session, "before_flush", remember)
        event.remove(Session, "before_commit", refuse)


async def test_a_created_script_is_readable_at_once_from_another_connection(
    live, pcm_auth_headers, script_payload, slow_commits
):
    headers = await pcm_auth_headers("admin")
    missing = []
    async with (
        httpx.AsyncClient(base_url=live, headers=headers) as writer,
        httpx.AsyncClient(base_url=live, headers=headers) as reader,
    ):
        for n in range(TRIES):
            created = await writer.post(
                f"{API}/scripts", json={**script_payload, "name": f"script-{n}"}
            )
            assert created.status_code == 201, created.text
            script_id = created.json()["id"]
            read = await reader.get(f"{API}/scripts/{script_id}")
            if read.status_code != 200:
                missing.append((script_id, read.status_code))
            changed = await writer.patch(f"{API}/scripts/{script_id}", json={"body": f"echo {n}\n"})
            assert changed.status_code == 200, changed.text
            version = (await reader.get(f"{API}/scripts/{script_id}")).json()["current_version"]
            if version != 2:
                missing.append((script_id, f"version {version}"))

    assert missing == []


async def test_a_script_saved_through_the_form_is_there_when_the_redirect_is_followed(
    live, pcm_migrated_database, pcm_auth_headers, slow_commits
):
    from pcm_ops.security.users import create_user

    async with pcm_migrated_database.session() as session:
        await create_user(session, "ada", "a long enough password", "admin")
    headers = await pcm_auth_headers("viewer")
    missing = []
    async with (
        httpx.AsyncClient(base_url=live) as browser,
        httpx.AsyncClient(base_url=live, headers=headers) as reader,
    ):
        login = await browser.post(
            "/api/auth/login", json={"username": "ada", "password": "a long enough password"}
        )
        csrf = login.json()["csrf_token"]
        for n in range(TRIES):
            form = {
                "csrf_token": csrf,
                "name": f"form-{n}",
                "language": "shell",
                "body": "uptime\r\n",
            }
            saved = await browser.post(f"{PAGES}/scripts/new", data=form)
            assert saved.status_code == 303, saved.text
            shown = await reader.get(saved.headers["location"])
            if shown.status_code != 200:
                missing.append((saved.headers["location"], shown.status_code))

    assert missing == []


async def test_a_commit_that_fails_is_an_error_answer_and_nothing_is_saved(
    live, pcm_auth_headers, script_payload, failing_commits
):
    headers = await pcm_auth_headers("admin")
    async with httpx.AsyncClient(base_url=live, headers=headers) as client:
        response = await client.post(f"{API}/scripts", json=script_payload)
        listed = await client.get(f"{API}/scripts")

    assert failing_commits  # the commit was really made to fail
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}  # no traceback, no SQL
    assert listed.status_code == 200
    assert listed.json() == []


async def test_a_form_whose_commit_fails_shows_an_error_page_not_a_redirect(
    live, pcm_migrated_database, failing_commits
):
    from pcm_ops.security.users import create_user

    async with pcm_migrated_database.session() as session:
        await create_user(session, "ada", "a long enough password", "admin")
    async with httpx.AsyncClient(base_url=live) as browser:
        login = await browser.post(
            "/api/auth/login", json={"username": "ada", "password": "a long enough password"}
        )
        form = {
            "csrf_token": login.json()["csrf_token"],
            "name": "never-saved",
            "language": "shell",
            "body": "uptime\r\n",
        }
        saved = await browser.post(
            f"{PAGES}/scripts/new", data=form, headers={"Accept": "text/html"}
        )

    assert failing_commits
    assert saved.status_code == 500
    assert "location" not in saved.headers
    assert "Traceback" not in saved.text


async def test_every_route_commits_its_session_before_the_response_is_sent(
    pcm_app, pcm_running_app
):
    """Structural, for every route of core and the loaded plugins: a route's database
    session (``DbSession``) ends, and commits, before its response goes out."""

    def sessions(dependant: Any) -> Iterator[Any]:
        for dependency in dependant.dependencies:
            if dependency.call is get_session:
                yield dependency
            yield from sessions(dependency)

    checked = [
        (route.path, route.methods, dependency.scope)
        for route in effective_routes(pcm_app.routes)
        if route.dependant is not None
        for dependency in sessions(route.dependant)
    ]

    writing = [row for row in checked if set(row[1]) & {"POST", "PUT", "PATCH", "DELETE"}]
    assert len(writing) >= 10  # the script runner's and core's writing routes were found
    assert [row for row in checked if row[2] != "function"] == []
