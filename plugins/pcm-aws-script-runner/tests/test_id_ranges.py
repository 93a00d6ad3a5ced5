"""Numbers past their column's range, in the API and on the pages: an id in the path that no
row can have is a 404, a query or body value out of range is a 422 naming the field, and
none reaches the database (SQLite refuses integers past 64 bits, PostgreSQL ``integer``
columns past 32), on either backend."""

from __future__ import annotations

import re
from typing import Any

import httpx

API = "/api/tools/aws/script-runner"
PAGES = "/tools/aws/script-runner"
INT32_MAX = 2**31 - 1
#: Past a PostgreSQL ``integer``; past any SQLite integer.
TOO_LARGE = [str(INT32_MAX + 1), "99999999999999999999"]
HTML = {"Accept": "text/html"}


def field_errors(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


# -- the API -----------------------------------------------------------------------------------

#: Every API route with an id in its path (``{n}``), and its method.
API_ROUTES = [
    ("GET", "/scripts/{n}"),
    ("PATCH", "/scripts/{n}"),
    ("GET", "/scripts/{n}/versions"),
    ("GET", "/scripts/1/versions/{n}"),
    ("GET", "/scripts/{n}/diff"),
    ("POST", "/scripts/{n}/archive"),
    ("POST", "/scripts/{n}/unarchive"),
    ("GET", "/executions/{n}"),
    ("GET", "/executions/{n}/targets"),
    ("GET", "/executions/{n}/export"),
    ("GET", "/executions/{n}/events"),
    ("POST", "/executions/{n}/cancel"),
    ("POST", "/executions/{n}/rerun"),
    ("POST", "/executions/{n}/clone"),
    ("GET", "/inventory/filters/{n}"),
    ("PUT", "/inventory/filters/{n}"),
    ("DELETE", "/inventory/filters/{n}"),
]


async def test_an_id_past_its_column_in_an_api_path_is_not_found(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    answers = {}
    for method, path in API_ROUTES:
        for number in TOO_LARGE:
            url = API + path.format(n=number)
            body = {} if method in ("PATCH", "PUT") else None
            answers[f"{method} {url}"] = (
                await pcm_admin_client.request(method, url, json=body)
            ).status_code
    assert {request: code for request, code in answers.items() if code != 404} == {}


async def test_the_largest_id_is_looked_up_and_not_found(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    for path in (f"/scripts/{INT32_MAX}", f"/executions/{INT32_MAX}", "/scripts/1/versions/1"):
        response = await pcm_admin_client.get(API + path)
        assert response.status_code == 404, response.text
        assert "id is a whole number" not in response.text  # the database was asked


async def test_a_query_value_past_its_column_is_a_422_naming_it(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    cases = [
        ("/scripts", "offset", 2**63),
        ("/scripts/1/diff", "from", INT32_MAX + 1),
        ("/scripts/1/diff", "to", 2**63),
        ("/executions", "offset", 2**63),
        ("/executions", "script_id", INT32_MAX + 1),
        ("/executions/export", "script_id", 2**63),
        ("/executions/1/targets", "offset", 2**63),
        ("/executions/1/events", "after", 2**63),
        ("/inventory/instances", "offset", 2**63),
    ]
    for path, field, value in cases:
        response = await pcm_admin_client.get(API + path, params={field: value})
        assert field_errors(response) == [["query", field]], path


async def test_a_body_id_past_its_column_is_a_422_naming_it(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    valid = {"script_id": 1, "targets": {"instance_ids": ["i-0123456789abcdef0"]}}
    cases = [
        ({"script_id": 2**63}, ["body", "script_id"]),
        ({"script_version": INT32_MAX + 1}, ["body", "script_version"]),
        ({"targets": {"saved_filter_id": INT32_MAX + 1}}, ["body", "targets", "saved_filter_id"]),
    ]
    for action in ("/executions", "/executions/preview"):
        for change, where in cases:
            response = await pcm_admin_client.post(API + action, json={**valid, **change})
            assert field_errors(response) == [where], (action, change)


# -- the pages ---------------------------------------------------------------------------------

#: Every page with an id in its path (``{n}``), and its method.
PAGE_ROUTES = [
    ("GET", "/executions/{n}"),
    ("GET", "/executions/{n}/cancel"),
    ("POST", "/executions/{n}/cancel"),
    ("GET", "/executions/{n}/rerun"),
    ("POST", "/executions/{n}/rerun"),
    ("GET", "/scripts/{n}"),
    ("GET", "/scripts/{n}/edit"),
    ("POST", "/scripts/{n}/edit"),
    ("POST", "/scripts/{n}/archive"),
    ("GET", "/scripts/1/versions/{n}"),
    ("GET", "/scripts/{n}/diff"),
    ("GET", "/inventory/filters/{n}"),
    ("POST", "/inventory/filters/{n}/delete"),
]


async def test_a_page_for_an_id_past_its_column_is_not_found(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    answers = {}
    for method, path in PAGE_ROUTES:
        for number in TOO_LARGE:
            url = PAGES + path.format(n=number)
            response = await pcm_admin_client.request(method, url, headers=HTML)
            answers[f"{method} {url}"] = (response.status_code, "Page not found" in response.text)
    assert {request: got for request, got in answers.items() if got != (404, True)} == {}


async def test_a_page_value_past_its_column_is_a_422_naming_it(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    cases = [
        ("/executions", "offset"),
        # (An execution's page pages by key now, `after`/`batches_after`: no offset.)
        ("/inventory", "offset"),
        ("/scripts/1/diff", "from"),
    ]
    for path, field in cases:
        response = await pcm_admin_client.get(
            PAGES + path, params={field: str(2**63)}, headers=HTML
        )
        assert response.status_code == 422, (path, response.text)
        text = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())
        assert re.search(rf"\b{field} ?: ", text), path  # the field named...
        assert "Input should be" not in text, path  # ...and the problem in words


async def test_the_history_filter_by_a_script_id_past_its_column_asks_for_a_script(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    response = await pcm_admin_client.get(
        f"{PAGES}/executions", params={"script_id": "99999999999999999999"}, headers=HTML
    )
    assert response.status_code == 422, response.text
    assert "choose a script from the list" in response.text


async def test_the_run_form_ignores_ids_past_their_column(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    huge = "99999999999999999999"
    response = await pcm_admin_client.get(
        f"{PAGES}/executions/new",
        params={"script_id": huge, "version": huge, "clone": huge, "saved_filter": huge},
        headers=HTML,
    )
    assert response.status_code == 200, response.text
    submitted = await pcm_admin_client.post(
        f"{PAGES}/executions/new",
        data={"script_id": huge, "version": huge, "clone": huge, "action": "preview"},
        headers=HTML,
    )
    assert submitted.status_code == 422, submitted.text


async def test_an_integer_default_of_thousands_of_digits_is_a_problem_of_the_form(
    pcm_admin_client: httpx.AsyncClient,
) -> None:
    form = {
        "name": "huge-default",
        "language": "shell",
        "body": "echo hi\n",
        "parameters-0-name": "count",
        "parameters-0-type": "integer",
        "parameters-0-default": "9" * 5000,
    }
    response = await pcm_admin_client.post(f"{PAGES}/scripts/new", data=form, headers=HTML)
    assert response.status_code == 422, response.text[:500]
