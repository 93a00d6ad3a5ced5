"""Credential source ids past their column (a PostgreSQL ``integer``, 32 bits; SQLite stops
at 64): in a path they are a 404, in a body a 422 naming the field, in the API and on the
pages, on either backend."""

from __future__ import annotations

from typing import Any

API = "/api/tools/aws/common"
PAGES = "/tools/aws/common"
INT32_MAX = 2**31 - 1
TOO_LARGE = [str(INT32_MAX + 1), "99999999999999999999"]
HTML = {"Accept": "text/html"}


async def test_a_source_id_past_its_column_in_a_path_is_not_found(api: Any) -> None:
    headers = await api.auth("admin")
    routes = [
        ("GET", API + "/credentials/{n}"),
        ("PATCH", API + "/credentials/{n}"),
        ("DELETE", API + "/credentials/{n}"),
        ("POST", API + "/credentials/{n}/refresh"),
        ("POST", PAGES + "/credentials/{n}/refresh"),
        ("POST", PAGES + "/credentials/{n}/delete"),
    ]
    answers = {}
    for method, path in routes:
        for number in TOO_LARGE:
            url = path.format(n=number)
            body = {} if method == "PATCH" else None
            response = await api.client.request(method, url, json=body, headers={**headers, **HTML})
            answers[f"{method} {url}"] = response.status_code
    assert {request: code for request, code in answers.items() if code != 404} == {}


async def test_the_largest_source_id_is_looked_up_and_not_found(api: Any) -> None:
    response = await api.get(f"/credentials/{INT32_MAX}")
    assert response.status_code == 404, response.text
    assert "id is a whole number" not in response.text  # the database was asked


async def test_a_source_id_past_its_column_in_a_body_is_a_422_naming_it(api: Any) -> None:
    source = await api.add_keys("keys-for-ranges")
    account = {
        "account_id": "123456789012",
        "name": "ranges",
        "partition": "aws",
        "regions": ["us-east-1"],
    }
    requests = [
        ("POST", "/accounts", {**account, "credential_source_id": 2**63}),
        ("PATCH", "/accounts/123456789012", {"credential_source_id": INT32_MAX + 1}),
        (
            "POST",
            "/accounts/import/preview",
            {"credential_source_id": INT32_MAX + 1, "regions": ["us-east-1"]},
        ),
    ]
    for method, path, body in requests:
        response = await api.request(method, path, "admin", json=body)
        assert response.status_code == 422, (path, response.text)
        locations = [error["loc"] for error in response.json()["detail"]]
        assert locations == [["body", "credential_source_id"]], path
    created = await api.add_account(**account, credential_source_id=source["id"])
    assert created.status_code == 201, created.text


async def test_the_account_form_names_a_source_id_past_its_column(api: Any) -> None:
    form = {
        "account_id": "123456789012",
        "name": "ranges",
        "partition": "aws",
        "regions": "us-east-1",
        "credential_source_id": str(2**63),
    }
    headers = {**await api.auth("admin"), **HTML}
    response = await api.client.post(f"{PAGES}/accounts", data=form, headers=headers)
    assert response.status_code == 422, response.text
    assert "2147483647" in response.text
