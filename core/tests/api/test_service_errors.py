"""A service error a route lets propagate is answered with its status: JSON for the API
(``InvalidInput`` in FastAPI's 422 shape, naming each field), the error page for a browser;
never a 500."""

from __future__ import annotations

import pytest

from pcm_ops.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInput,
    NotFoundError,
    ServiceError,
    UpstreamError,
)

RAISED = {
    "not-found": NotFoundError("there is no note 7"),
    "conflict": ConflictError("a note named 'x' exists"),
    "forbidden": ForbiddenError("the note is someone else's"),
    "upstream": UpstreamError("ServiceNow answered 503 to GET change_request"),
    "plain": ServiceError("the note is archived: unarchive it first"),
    "invalid": InvalidInput([("title", "must not be empty"), ("tags[1]", "too long")]),
}


@pytest.fixture
def app(pcm_app):
    async def fail(kind: str) -> None:
        raise RAISED[kind]

    pcm_app.add_api_route("/api/test-errors/{kind}", fail)
    pcm_app.add_api_route("/test-errors/{kind}", fail)
    return pcm_app


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("not-found", 404),
        ("conflict", 409),
        ("forbidden", 403),
        ("upstream", 502),
        ("plain", 400),
    ],
)
async def test_an_api_route_answers_the_service_errors_status_and_message(
    app, pcm_admin_client, kind, status
):
    response = await pcm_admin_client.get(f"/api/test-errors/{kind}")

    assert response.status_code == status
    assert response.json() == {"detail": str(RAISED[kind])}


async def test_invalid_input_is_a_422_naming_every_field(app, pcm_admin_client):
    response = await pcm_admin_client.get("/api/test-errors/invalid")

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "title"], "msg": "must not be empty", "type": "value_error"},
        {"loc": ["body", "tags[1]"], "msg": "too long", "type": "value_error"},
    ]


async def test_a_page_shows_the_error_page_with_the_message(app, pcm_admin_client):
    response = await pcm_admin_client.get("/test-errors/conflict", headers={"Accept": "text/html"})

    assert response.status_code == 409
    assert "text/html" in response.headers["content-type"]
    assert "a note named &#39;x&#39; exists" in response.text


def test_invalid_input_needs_a_problem_and_reads_well():
    with pytest.raises(ValueError, match="at least one problem"):
        InvalidInput([])
    assert str(InvalidInput([("name", "taken")])) == "name: taken"
    assert RAISED["invalid"].for_field("tags") == ["too long"]
