"""Ids and offsets are bounded by their columns (``pcm_ops.api.params``): a path id no row
can have is a 404, a query or body value out of range is a 422 naming the field, and no
such value ever reaches the database, on either backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from pcm_ops.api.params import (
    INT32_MAX,
    INT64_MAX,
    BigPathId,
    Id,
    Offset,
    PathId,
    parse_id,
    parse_offset,
)


class NoteIn(BaseModel):
    folder_id: Id


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/notes/{note_id}")
    async def read_note(note_id: PathId) -> dict[str, int]:
        return {"id": note_id}

    @app.get("/events/{event_id}")
    async def read_event(event_id: BigPathId) -> dict[str, int]:
        return {"id": event_id}

    @app.get("/notes")
    async def list_notes(author_id: Id | None = None, offset: Offset = 0) -> dict[str, Any]:
        return {"author_id": author_id, "offset": offset}

    @app.post("/notes")
    async def add_note(body: NoteIn) -> dict[str, int]:
        return {"folder_id": body.folder_id}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _field_errors(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    "segment", ["0", "-1", str(INT32_MAX + 1), "99999999999999999999", "9" * 5000]
)
async def test_a_path_id_no_row_can_have_is_not_found(
    client: httpx.AsyncClient, segment: str
) -> None:
    response = await client.get(f"/notes/{segment}")
    assert response.status_code == 404, response.text
    assert "1 to 2147483647" in response.json()["detail"]


@pytest.mark.parametrize("number", [1, INT32_MAX])
async def test_a_path_id_in_range_reaches_the_route(client: httpx.AsyncClient, number: int) -> None:
    response = await client.get(f"/notes/{number}")
    assert response.status_code == 200
    assert response.json() == {"id": number}


async def test_a_path_id_that_is_not_a_number_stays_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    assert _field_errors(await client.get("/notes/abc")) == [["path", "note_id"]]


async def test_a_big_path_id_reaches_the_range_of_a_big_integer(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get(f"/events/{INT32_MAX + 1}")).status_code == 200
    assert (await client.get(f"/events/{INT64_MAX}")).status_code == 200
    assert (await client.get(f"/events/{INT64_MAX + 1}")).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"author_id": str(INT32_MAX + 1)}, "author_id"),
        ({"author_id": "0"}, "author_id"),
        ({"offset": str(2**63)}, "offset"),
        ({"offset": "-1"}, "offset"),
    ],
)
async def test_a_query_value_out_of_range_is_a_422_naming_it(
    client: httpx.AsyncClient, query: dict[str, str], field: str
) -> None:
    assert _field_errors(await client.get("/notes", params=query)) == [["query", field]]


async def test_query_values_in_range_reach_the_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/notes", params={"author_id": INT32_MAX, "offset": INT32_MAX})
    assert response.json() == {"author_id": INT32_MAX, "offset": INT32_MAX}


async def test_a_body_id_out_of_range_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/notes", json={"folder_id": 2**63})
    assert _field_errors(response) == [["body", "folder_id"]]
    assert (await client.post("/notes", json={"folder_id": INT32_MAX})).status_code == 200


def test_the_openapi_document_shows_each_range() -> None:
    document = _app().openapi()
    (note_id,) = document["paths"]["/notes/{note_id}"]["get"]["parameters"]
    assert (note_id["schema"]["minimum"], note_id["schema"]["maximum"]) == (1, INT32_MAX)
    (event_id,) = document["paths"]["/events/{event_id}"]["get"]["parameters"]
    assert event_id["schema"]["maximum"] == INT64_MAX
    offset = document["paths"]["/notes"]["get"]["parameters"][1]
    assert (offset["schema"]["minimum"], offset["schema"]["maximum"]) == (0, INT32_MAX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        (" 42 ", 42),
        (str(INT32_MAX), INT32_MAX),
        (str(INT32_MAX + 1), None),
        ("0", None),
        ("-3", None),
        ("+3", None),
        ("1_000", None),
        ("²", None),  # a digit to str.isdigit(), not to int()
        ("", None),
        ("9" * 5000, None),
    ],
)
def test_parse_id_accepts_whole_numbers_of_the_column_only(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_parse_id_of_a_big_integer_key() -> None:
    assert parse_id(str(INT64_MAX), maximum=INT64_MAX) == INT64_MAX
    assert parse_id(str(INT64_MAX + 1), maximum=INT64_MAX) is None


def test_parse_offset_starts_at_zero() -> None:
    assert parse_offset("0") == 0
    assert parse_offset(str(INT32_MAX)) == INT32_MAX
    assert parse_offset(str(INT32_MAX + 1)) is None
    assert parse_offset("-1") is None


# -- Core's own routes, on each backend ------------------------------------------------------


async def test_an_audit_page_before_an_id_past_the_column_is_a_422_naming_it(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    for value in (2**63, INT32_MAX + 1):
        response = await pcm_admin_client.get("/api/audit", params={"before_id": value})
        assert _field_errors(response) == [["query", "before_id"]]
    response = await pcm_admin_client.get("/api/audit", params={"before_id": INT32_MAX})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("token_id", [str(INT32_MAX + 1), "99999999999999999999"])
async def test_revoking_a_token_id_past_the_column_is_not_found(
    pcm_admin_client: httpx.AsyncClient, token_id: str
) -> None:
    response = await pcm_admin_client.delete(f"/api/auth/tokens/{token_id}")
    assert response.status_code == 404, response.text


async def test_revoking_the_largest_token_id_asks_the_database_and_is_not_found(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    response = await pcm_admin_client.delete(f"/api/auth/tokens/{INT32_MAX}")
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == f"token {INT32_MAX} not found"


async def test_a_jobs_offset_past_the_column_is_a_422_naming_it(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    response = await pcm_admin_client.get("/api/jobs", params={"offset": 2**63})
    assert _field_errors(response) == [["query", "offset"]]
