"""Routing by plugin prefix: every route still answers as before, and a request under a
plugin's prefix is matched against that plugin's routes only."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from pcm_ops import hookimpl
from pcm_ops.discovery import ENTRY_POINT_GROUP
from pcm_ops.plugin import Permission, PluginMetadata, WebPages

PLUGINS = 3
#: How many times each plugin's routes were asked whether they match a request.
MATCHES: dict[str, int] = {}


class CountingRoute(APIRoute):
    def matches(self, scope: Any) -> Any:
        owner = self.path.split("/")[1]
        MATCHES[owner] = MATCHES.get(owner, 0) + 1
        return super().matches(scope)


def _plugin(index: int, static: Path) -> types.ModuleType:
    from pcm_ops.security import require

    plugin_id = f"routed-{index}"
    module = types.ModuleType(f"pcm_test_routed_plugin_{index}")
    module.metadata = PluginMetadata(  # type: ignore[attr-defined]
        id=plugin_id, display_name=f"Routed {index}", provider="test", tool=f"r{index}"
    )

    @hookimpl
    def pcm_ops_permissions() -> list[Permission]:
        return [Permission(f"{plugin_id}:read", "Read", ("admin",))]

    @hookimpl
    def pcm_ops_api_routers() -> list[APIRouter]:
        # Each route's path starts with a segment naming its plugin, for CountingRoute.
        router = APIRouter(
            prefix=f"/p{index}",
            dependencies=[require(f"{plugin_id}:read")],
            route_class=CountingRoute,
        )

        @router.get("/items")
        async def list_items() -> dict[str, Any]:
            return {"plugin": index, "items": []}

        @router.get("/items/{item_id}")
        async def get_item(item_id: int) -> dict[str, Any]:
            return {"plugin": index, "item": item_id}

        @router.delete("/items/{item_id}")
        async def delete_item(item_id: int) -> dict[str, Any]:
            return {"plugin": index, "deleted": item_id}

        @router.get("/files/{name:path}")
        async def get_file(name: str) -> dict[str, Any]:
            return {"plugin": index, "file": name}

        return [router]

    @hookimpl
    def pcm_ops_web_pages() -> WebPages:
        return WebPages(static=static)

    module.pcm_ops_permissions = pcm_ops_permissions  # type: ignore[attr-defined]
    module.pcm_ops_api_routers = pcm_ops_api_routers  # type: ignore[attr-defined]
    module.pcm_ops_web_pages = pcm_ops_web_pages  # type: ignore[attr-defined]
    return module


@pytest.fixture
def pcm_plugins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[EntryPoint]]:
    static = tmp_path_factory.mktemp("static")
    (static / "hello.txt").write_text("hello\n")
    modules = [_plugin(index, static) for index in range(PLUGINS)]
    with pytest.MonkeyPatch.context() as patch:
        for module in modules:
            patch.setitem(sys.modules, module.__name__, module)
        yield [
            EntryPoint(f"routed-{index}", module.__name__, ENTRY_POINT_GROUP)
            for index, module in enumerate(modules)
        ]


@pytest.fixture(autouse=True)
def _forget_matches() -> None:
    MATCHES.clear()


@pytest.mark.parametrize("index", range(PLUGINS))
async def test_every_plugins_routes_answer_with_their_path_parameters(
    pcm_admin_client: Any, index: int
) -> None:
    base = f"/api/tools/test/r{index}/p{index}"
    assert (await pcm_admin_client.get(f"{base}/items")).json() == {"plugin": index, "items": []}
    assert (await pcm_admin_client.get(f"{base}/items/7")).json() == {"plugin": index, "item": 7}
    deleted = await pcm_admin_client.delete(f"{base}/items/8")
    assert deleted.json() == {"plugin": index, "deleted": 8}
    nested = await pcm_admin_client.get(f"{base}/files/a/b.txt")
    assert nested.json() == {"plugin": index, "file": "a/b.txt"}


async def test_a_bad_path_parameter_answers_422_naming_it(pcm_admin_client: Any) -> None:
    response = await pcm_admin_client.get("/api/tools/test/r1/p1/items/seven")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "item_id"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/tools/test/r1/p1/nothing-here",  # under a plugin's prefix
        "/api/tools/test/r9/p9/items",  # under a prefix no plugin has
        "/api/tools/test",
        "/no/such/page",
    ],
)
async def test_an_unknown_path_answers_404(pcm_admin_client: Any, path: str) -> None:
    response = await pcm_admin_client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_a_method_the_route_does_not_serve_answers_405_with_allow(
    pcm_admin_client: Any,
) -> None:
    response = await pcm_admin_client.put("/api/tools/test/r2/p2/items/3")
    assert response.status_code == 405
    # Starlette names the methods of the first route whose path matches, as before.
    assert response.headers["allow"] == "GET"


async def test_a_trailing_slash_redirects_to_the_route_without_it(pcm_admin_client: Any) -> None:
    response = await pcm_admin_client.get("/api/tools/test/r0/p0/items/")
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/api/tools/test/r0/p0/items"


async def test_core_routes_and_static_files_are_still_served(pcm_admin_client: Any) -> None:
    assert (await pcm_admin_client.get("/healthz")).status_code == 200
    assert (await pcm_admin_client.get("/api/plugins")).status_code == 200
    static = await pcm_admin_client.get("/tools/test/r2/static/hello.txt")
    assert static.status_code == 200
    assert static.text == "hello\n"
    missing = await pcm_admin_client.get("/tools/test/r2/static/nope.txt")
    assert missing.status_code == 404


async def test_a_request_under_a_plugins_prefix_matches_only_that_plugins_routes(
    pcm_admin_client: Any,
) -> None:
    response = await pcm_admin_client.get("/api/tools/test/r2/p2/files/x")
    assert response.status_code == 200
    assert MATCHES.get("p2", 0) > 0
    assert MATCHES.get("p0", 0) == MATCHES.get("p1", 0) == 0


async def test_a_core_path_matches_no_plugin_route(pcm_admin_client: Any) -> None:
    assert (await pcm_admin_client.get("/healthz")).status_code == 200
    assert (await pcm_admin_client.get("/no/such/page")).status_code == 404
    assert MATCHES == {}


async def test_metrics_label_requests_with_the_route_template(pcm_admin_client: Any) -> None:
    await pcm_admin_client.get("/api/tools/test/r1/p1/items/41")
    await pcm_admin_client.get("/api/tools/test/r1/p1/files/deep/er.txt")
    await pcm_admin_client.put("/api/tools/test/r1/p1/items/41")
    await pcm_admin_client.get("/tools/test/r1/static/hello.txt")
    await pcm_admin_client.get("/no/such/page")
    text = (await pcm_admin_client.get("/metrics")).text
    requests = [line for line in text.splitlines() if line.startswith("pcm_http_requests_total")]
    assert any(
        'route="/api/tools/test/r1/p1/items/{item_id}"' in line and 'status="200"' in line
        for line in requests
    )
    assert any('route="/api/tools/test/r1/p1/files/{name:path}"' in line for line in requests)
    assert any('route="/tools/test/r1/static/{path}"' in line for line in requests)
    assert any(
        'method="PUT"' in line and 'route="unmatched"' in line and 'status="405"' in line
        for line in requests
    )
    assert any('route="unmatched"' in line and 'status="404"' in line for line in requests)
    assert not any("/41" in line or "deep" in line or "hello" in line for line in requests)
