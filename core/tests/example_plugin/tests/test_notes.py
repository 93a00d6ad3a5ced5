"""The example plugin, tested with the fixtures of ``pcm_ops.testing``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pcm_ops.cli.main import cli
from pcm_ops.db.seeds import run_seeds

pytest.importorskip(
    "pcm_example",
    reason="pcm-example-plugin is not installed: pip install -e core/tests/example_plugin",
)

NOTES = "/api/tools/example/notes/notes"


async def test_notes_can_be_added_and_listed(pcm_admin_client):
    created = await pcm_admin_client.post(NOTES, json={"title": "Patch", "body": "the fleet"})
    listed = await pcm_admin_client.get(NOTES)

    assert created.status_code == 201, created.text
    assert [(n["title"], n["body"]) for n in listed.json()] == [("Patch", "the fleet")]


async def test_viewers_may_read_notes_but_not_write_them(pcm_auth_headers, pcm_client):
    viewer = await pcm_auth_headers("viewer")

    listed = await pcm_client.get(NOTES, headers=viewer)
    created = await pcm_client.post(NOTES, json={"title": "No"}, headers=viewer)

    assert listed.status_code == 200
    assert created.status_code == 403


async def test_the_welcome_seed_uses_the_configured_greeting(
    pcm_settings, make_pcm_registry, pcm_migrated_database, monkeypatch
):
    monkeypatch.setenv("PCM_EXAMPLE__GREETING", "Ahoy")
    registry = make_pcm_registry()

    outcomes = await run_seeds(pcm_settings, registry, pcm_migrated_database)

    assert [(o.name, o.status.value) for o in outcomes] == [
        ("welcome-note", "applied"),
        ("demo-notes", "skipped"),
    ]
    from pcm_example.services import list_notes

    async with pcm_migrated_database.session() as session:
        notes = await list_notes(session)
    assert [note.body for note in notes] == ["Ahoy from the example plugin."]


async def test_greetings_come_from_every_implementation_of_example_greeting(pcm_admin_client):
    response = await pcm_admin_client.get(
        "/api/tools/example/notes/greetings", params={"name": "Ada"}
    )

    assert response.json() == {"greetings": ["Hello, Ada!"]}


async def test_the_notes_page_lists_the_notes(pcm_admin_client):
    await pcm_admin_client.post(NOTES, json={"title": "Rotate the keys"})

    page = await pcm_admin_client.get("/tools/example/notes/")
    stylesheet = await pcm_admin_client.get("/tools/example/notes/static/example.css")

    assert page.status_code == 200
    assert "Rotate the keys" in page.text
    assert stylesheet.status_code == 200


def test_the_hello_command_uses_the_configured_greeting(pcm_settings, monkeypatch):
    monkeypatch.setenv("PCM_DATA_DIR", str(pcm_settings.data_dir))
    monkeypatch.setenv("PCM_PLUGINS", "example")
    monkeypatch.setenv("PCM_EXAMPLE__GREETING", "Good morning")

    result = CliRunner().invoke(cli, ["example", "hello", "--name", "Ada"])

    assert (result.exit_code, result.output) == (0, "Good morning, Ada!\n")


async def test_the_notes_page_form_adds_a_note_and_shows_problems_by_field(
    pcm_migrated_database, pcm_client
):
    from pcm_ops.security.users import create_user

    async with pcm_migrated_database.session() as session:
        await create_user(session, "ada", "a long enough password", "operator")
    login = await pcm_client.post(
        "/api/auth/login", json={"username": "ada", "password": "a long enough password"}
    )
    csrf = login.json()["csrf_token"]

    added = await pcm_client.post(
        "/tools/example/notes/", data={"csrf_token": csrf, "title": "From the form"}
    )
    page = await pcm_client.get("/tools/example/notes/")
    blank = await pcm_client.post("/tools/example/notes/", data={"csrf_token": csrf, "title": ""})
    forged = await pcm_client.post("/tools/example/notes/", data={"title": "no token"})

    assert added.status_code == 303
    assert "From the form" in page.text
    assert "Note &#39;From the form&#39; added." in page.text
    assert blank.status_code == 422
    assert '<p class="form__error" id="title-problem">give the note a title</p>' in blank.text
    assert forged.status_code == 403
