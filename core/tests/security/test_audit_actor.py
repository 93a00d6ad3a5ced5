"""An :class:`~pcm_ops.audit.Actor` says who does something the same way for the API, the
pages, the CLI and the system, and ``record_by`` writes the audit event it names."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from pcm_ops.audit import Actor, AuditEvent, record_by
from pcm_ops.cli.session import cli_actor
from pcm_ops.security import Principal


def principal(token_name: str | None = None) -> Principal:
    return Principal(
        user_id=7,
        username="alice",
        role="operator",
        permissions=frozenset({"example:notes.manage"}),
        via="token" if token_name else "session",
        token_id=3 if token_name else None,
        token_name=token_name,
    )


def request_from(host: str) -> Request:
    return Request({"type": "http", "client": (host, 40000), "headers": []})


class CollectingSession:
    """Stands in for a database session: keeps what is added."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, item: Any) -> None:
        self.added.append(item)

    async def flush(self) -> None:
        pass


def test_an_actor_from_a_principal_is_named_by_the_username():
    actor = Actor.from_principal(principal("ci"), request_from("10.0.0.5"))

    assert (actor.name, actor.user_id) == ("alice", 7)


def test_the_audit_log_names_a_principal_with_its_token():
    assert Actor.from_principal(principal("ci")).audit_name == "alice (token 'ci')"
    assert Actor.from_principal(principal()).audit_name == "alice"


def test_an_actor_from_a_principal_holds_the_principals_permissions():
    actor = Actor.from_principal(principal())

    assert actor.can("example:notes.manage")
    assert not actor.can("example:notes.share")


def test_the_cli_actor_is_named_as_core_names_the_command_line():
    actor = Actor.cli()

    assert (actor.name, actor.audit_name, actor.user_id) == (cli_actor(), cli_actor(), None)


def test_actors_without_a_principal_act_as_the_hosts_operator():
    assert Actor.cli().can("example:notes.share")
    assert Actor.system("demo").can("example:notes.share")


def test_a_system_actor_is_named_by_its_name():
    actor = Actor.system("demo")

    assert (actor.name, actor.audit_name, actor.user_id, actor.request) == (
        "demo",
        "demo",
        None,
        None,
    )


async def test_record_by_names_the_principal_its_token_and_the_client_address():
    session = CollectingSession()
    actor = Actor.from_principal(principal("ci"), request_from("10.0.0.5"))

    event = await record_by(
        session,  # type: ignore[arg-type]
        actor,
        "example.note.create",
        object_type="note",
        object_id="12",
        details={"title": "hello"},
    )

    assert session.added == [event]
    assert (event.actor, event.user_id, event.token_id, event.client_address) == (
        "alice (token 'ci')",
        7,
        3,
        "10.0.0.5",
    )
    assert (event.action, event.object_type, event.object_id, event.details) == (
        "example.note.create",
        "note",
        "12",
        {"title": "hello"},
    )


async def test_record_by_names_an_actor_without_a_principal_by_its_name():
    session = CollectingSession()

    event = await record_by(session, Actor.cli(), "example.note.delete", outcome="failure")  # type: ignore[arg-type]

    assert (event.actor, event.user_id, event.token_id, event.client_address) == (
        cli_actor(),
        None,
        None,
        None,
    )
    assert event.outcome == "failure"


async def test_record_by_appends_to_the_audit_log_in_the_callers_transaction(platform: Any):
    from sqlmodel import select

    async with platform.app.state.database.session() as session:
        await record_by(session, Actor.system("demo"), "core.test.recorded", object_id="1")

    async with platform.app.state.database.session() as session:
        statement = select(AuditEvent).where(AuditEvent.action == "core.test.recorded")
        events = (await session.exec(statement)).all()

    assert [(event.actor, event.object_id) for event in events] == [("demo", "1")]
