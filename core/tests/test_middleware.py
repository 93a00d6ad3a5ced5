"""CoreMiddleware: log context, metrics, security headers, NUL refusal and the flash cookie
in one ASGI layer, with the behaviour of the five middlewares it replaced."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pcm_ops.logs import current_log_context
from pcm_ops.metrics import Metrics
from pcm_ops.middleware import CoreMiddleware
from pcm_ops.web.flash import FLASH_COOKIE, flash

PREFIXES = {"/api/tools/test/alpha": "alpha", "/tools/test/alpha": "alpha"}

#: One response object sent for every request: the middleware must not change it.
SHARED = PlainTextResponse("shared")


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["item_id"], **current_log_context()})


async def framed(request: Request) -> Response:
    return PlainTextResponse("framed", headers={"X-Frame-Options": "SAMEORIGIN"})


async def shared(request: Request) -> Response:
    return SHARED


async def flashing(request: Request) -> Response:
    flash(request, "Saved.", "success")
    return PlainTextResponse("flashed")


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


async def echo(request: Request) -> Response:
    return PlainTextResponse((await request.body()).decode())


async def routed(request: Request) -> Response:
    return PlainTextResponse(f"routed {request.method}")


def build(
    hsts: bool = False, answers: dict[str, tuple[str, bytes]] | None = None
) -> tuple[Starlette, Metrics]:
    metrics = Metrics(SimpleNamespace(records=[]))
    app = Starlette(
        routes=[
            Route("/api/tools/test/alpha/items/{item_id}", item),
            Route("/items/{item_id}", item),
            Route("/framed", framed),
            Route("/shared", shared),
            Route("/flashing", flashing),
            Route("/broken", broken),
            Route("/echo", echo, methods=["POST"]),
            Route("/alive", routed, methods=["GET", "POST"]),
        ],
        middleware=[
            Middleware(
                CoreMiddleware, metrics=metrics, prefixes=PREFIXES, hsts=hsts, answers=answers
            )
        ],
    )
    return app, metrics


def client(app: Starlette, base_url: str = "http://testserver") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def count(metrics: Metrics, method: str, route: str, status: str) -> float:
    value = metrics.registry.get_sample_value(
        "pcm_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


async def test_every_response_carries_the_security_headers_and_no_hsts_on_http() -> None:
    app, _ = build(hsts=True)
    async with client(app) as http:
        for path in ("/items/1", "/no-such-page"):
            response = await http.get(path)
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["cross-origin-opener-policy"] == "same-origin"
            assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize(("hsts", "sent"), [(True, True), (False, False)])
async def test_hsts_is_sent_on_https_only_when_it_is_on(hsts: bool, sent: bool) -> None:
    app, _ = build(hsts=hsts)
    async with client(app, "https://testserver") as http:
        response = await http.get("/items/1")
    assert ("strict-transport-security" in response.headers) is sent


async def test_a_security_header_the_response_sets_itself_is_kept() -> None:
    app, _ = build()
    async with client(app) as http:
        response = await http.get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_response_object_sent_twice_is_not_changed_by_the_headers_added() -> None:
    app, _ = build()
    before = list(SHARED.raw_headers)
    async with client(app) as http:
        first = await http.get("/shared")
        second = await http.get("/shared")
    assert SHARED.raw_headers == before
    assert len(second.headers.get_list("content-security-policy")) == 1
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_the_request_id_is_the_clients_when_printable_else_a_new_one() -> None:
    app, _ = build()
    async with client(app) as http:
        kept = await http.get("/items/1", headers={"X-Request-ID": "req-from-the-proxy"})
        replaced = await http.get("/items/1", headers={"X-Request-ID": "bad id\t"})
    assert kept.headers["x-request-id"] == "req-from-the-proxy"
    assert kept.json()["request_id"] == "req-from-the-proxy"
    assert len(replaced.headers["x-request-id"]) == 32
    assert replaced.json()["request_id"] == replaced.headers["x-request-id"]


async def test_the_log_context_names_the_plugin_whose_prefix_the_path_is_under() -> None:
    app, _ = build()
    async with client(app) as http:
        plugin = await http.get("/api/tools/test/alpha/items/7")
        core = await http.get("/items/7")
    assert plugin.json()["plugin"] == "alpha"
    assert "plugin" not in core.json()
    assert current_log_context() == {}  # nothing leaks out of the request


async def test_requests_are_counted_by_route_template_method_and_status() -> None:
    app, metrics = build()
    async with client(app) as http:
        await http.get("/items/1")
        await http.get("/items/2")
        await http.get("/no-such-page")
    assert count(metrics, "GET", "/items/{item_id}", "200") == 2
    assert count(metrics, "GET", "unmatched", "404") == 1
    duration = metrics.registry.get_sample_value(
        "pcm_http_request_duration_seconds_count", {"method": "GET", "route": "/items/{item_id}"}
    )
    assert duration == 2


async def test_a_route_that_raises_is_counted_as_a_500(caplog: pytest.LogCaptureFixture) -> None:
    app, metrics = build()
    with caplog.at_level(logging.CRITICAL):
        async with client(app) as http:
            response = await http.get("/broken")
    assert response.status_code == 500
    assert count(metrics, "GET", "/broken", "500") == 1


@pytest.mark.parametrize(
    ("path", "where"), [("/items/a%00b", "path"), ("/items/1?q=a%00b", "query")]
)
async def test_nul_in_the_path_or_query_is_refused_like_any_other_response(
    path: str, where: str
) -> None:
    app, metrics = build()
    async with client(app) as http:
        response = await http.get(path)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [where]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.headers["x-request-id"]) == 32
    assert count(metrics, "GET", "unmatched", "422") == 1


async def test_nul_in_a_json_body_is_refused_and_a_clean_body_reaches_the_route() -> None:
    app, _ = build()
    async with client(app) as http:
        refused = await http.post("/echo", json={"name": "a\x00b"})
        passed = await http.post("/echo", json={"name": "ab"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body"]
    assert passed.status_code == 200
    assert passed.text == '{"name":"ab"}'


async def test_what_a_request_flashes_goes_out_in_the_flash_cookie() -> None:
    app, _ = build()
    async with client(app) as http:
        flashed = await http.get("/flashing")
        plain = await http.get("/items/1")
    assert FLASH_COOKIE in flashed.cookies
    assert "set-cookie" not in plain.headers


async def test_a_fixed_answer_is_sent_before_routing_with_the_layers_own_work() -> None:
    app, metrics = build(hsts=True, answers={"/alive": ("application/json", b'{"up":true}')})
    async with client(app, "https://testserver") as http:
        first = await http.get("/alive")
        second = await http.get("/alive", headers={"X-Request-ID": "probe-1"})
        with_query = await http.get("/alive?verbose=1")
        posted = await http.post("/alive")
    for answer in (first, second):
        assert answer.status_code == 200
        assert answer.content == b'{"up":true}'
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["content-length"] == "11"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" in answer.headers
    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] == "probe-1"
    # A query string or another method is the route's to answer.
    assert with_query.text == "routed GET"
    assert posted.text == "routed POST"
    assert count(metrics, "GET", "/alive", "200") == 3
    assert count(metrics, "POST", "/alive", "200") == 1
    duration = metrics.registry.get_sample_value(
        "pcm_http_request_duration_seconds_count", {"method": "GET", "route": "/alive"}
    )
    assert duration == 3


async def test_other_scopes_pass_through_untouched() -> None:
    seen: list[tuple[Any, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, send))

    async def send(message: Any) -> None:
        raise AssertionError("not called")

    middleware = CoreMiddleware(inner, metrics=Metrics(SimpleNamespace(records=[])))
    scope = {"type": "websocket", "path": "/ws\x00"}
    await middleware(scope, None, send)  # type: ignore[arg-type]
    assert seen == [(scope, send)]


@pytest.mark.pcm_plugins("alpha")
def test_create_app_adds_core_middleware_as_its_one_layer(pcm_app: Any) -> None:
    assert [middleware.cls for middleware in pcm_app.user_middleware] == [CoreMiddleware]
