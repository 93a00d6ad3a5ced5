"""Error pages: HTML for browsers, FastAPI's JSON for API clients and /api/ paths."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.requests import Request

from pcm_ops.web.errors import wants_html


async def test_unknown_page_gets_an_html_404(client: httpx.AsyncClient) -> None:
    page = await client.get("/no-such-page")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text
    assert 'href="/"' in page.text


async def test_route_404_shows_its_detail(client: httpx.AsyncClient) -> None:
    page = await client.get("/tools/aws/example/reports/7")

    assert page.status_code == 404
    assert "Report 7 does not exist." in page.text
    assert "PCM-Ops core 0.1.0 · Example Tool" in page.text


async def test_api_404_is_json_even_for_a_browser(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/no-such-thing")
    route = await client.get("/api/tools/aws/example/items/7")

    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
    assert route.json() == {"detail": "no item 7"}


async def test_page_404_is_json_for_a_client_that_does_not_accept_html(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/no-such-page", headers={"Accept": "application/json"})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_api_validation_errors_keep_fastapis_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tools/aws/example/items/abc")

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"][0]["loc"] == ["path", "item_id"]


async def test_page_validation_errors_get_an_html_page(client: httpx.AsyncClient) -> None:
    page = await client.get("/tools/aws/example/reports/abc")

    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    # The field without its "path" part, and the problem in words, not pydantic's.
    assert "report_id: must be a whole number" in page.text
    assert "Input should be a valid integer" not in page.text


def test_pydantic_messages_are_put_in_words_and_others_kept() -> None:
    from pydantic import BaseModel, Field, ValidationError

    from pcm_ops.errors import in_words, validation_problems

    class Form(BaseModel):
        key: str = Field(pattern=r"^[A-Z]+$")
        count: int
        nested: dict[str, int] = {}

    try:
        Form.model_validate({"key": "abc", "count": "three", "nested": {"a": "b"}, "x": 1})
    except ValidationError as exc:
        problems = validation_problems(exc)
    assert problems == [
        ("key", "has characters that are not allowed here"),
        ("count", "must be a whole number, like 30 (digits only)"),
        ("nested.a", "must be a whole number, like 30 (digits only)"),
    ]
    assert in_words("Value error, the name is taken") == "the name is taken"
    too_long = in_words("String should have at most 5 characters")
    assert too_long == "is too long: at most 5 characters"


async def test_crash_gets_a_500_page_without_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pcm_ops.web"):
        page = await client.get("/tools/aws/example/boom")

    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Server error</h1>" in page.text
    assert "secret internals" not in page.text
    assert "Traceback" not in page.text
    assert "RuntimeError" not in page.text
    logged = [r for r in caplog.records if "GET /tools/aws/example/boom" in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None


async def test_api_crash_gets_json_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tools/aws/example/boom")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}


async def test_browser_not_logged_in_posting_gets_a_401_page(make_app, browse) -> None:
    async with browse(make_app(role=None)) as client:
        page = await client.post("/logout")

    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert "You need to log in" in page.text
    assert "bearer token" not in page.text
    assert "Example Tool" not in page.text


async def test_browser_not_logged_in_is_sent_to_the_login_page(make_app, browse) -> None:
    app = make_app(role=None)
    async with browse(app) as client:
        response = await client.get("/tools/aws/example/reports?page=2")

    assert response.status_code == 303
    assert response.headers["location"] == (
        "/login?next=%2Ftools%2Faws%2Fexample%2Freports%3Fpage%3D2"
    )


async def test_api_client_not_logged_in_gets_json_401(make_app, browse) -> None:
    async with browse(make_app(role=None)) as client:
        response = await client.get("/api/tools/aws/example/items/1")

    assert response.status_code == 401
    assert "authentication required" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_browser_without_the_permission_gets_a_403_page(make_app, browse) -> None:
    async with browse(make_app(role="viewer")) as client:
        page = await client.get("/tools/aws/example/reports")

    assert page.status_code == 403
    assert "permission" in page.text
    assert "example-tool:reports" in page.text


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/tools/x/", {"accept": "text/html,*/*;q=0.8"}, True),
        ("/tools/x/", {"accept": "application/xhtml+xml"}, True),
        ("/tools/x/", {"accept": "*/*", "hx-request": "true"}, True),
        ("/tools/x/", {"accept": "application/json"}, False),
        ("/tools/x/", {"accept": "text/html;q=0, application/json"}, False),
        ("/tools/x/", {}, False),
        ("/api/tools/x/", {"accept": "text/html"}, False),
        ("/api", {"accept": "text/html"}, False),
        ("/apiary", {"accept": "text/html"}, True),
    ],
)
def test_who_gets_html_errors(path: str, headers: dict[str, str], expected: bool) -> None:
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    request = Request({"type": "http", "method": "GET", "path": path, "headers": raw})

    assert wants_html(request) is expected
