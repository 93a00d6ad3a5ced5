"""/metrics: Prometheus text, route templates not raw paths, public or protected."""

from __future__ import annotations

from typing import Any


async def test_metrics_count_requests_by_route_template(platform: Any) -> None:
    await platform.client.get("/api/tools/test/vault/secrets/abc", headers=platform.auth("vera"))
    response = await platform.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'route="/api/tools/test/vault/secrets/{name}"' in text
    assert "/secrets/abc" not in text
    assert 'pcm_plugins{state="loaded"} 1.0' in text


async def test_metrics_can_be_made_private(platform: Any) -> None:
    platform.app.state.settings = platform.settings.model_copy(
        update={"public_paths": ["/healthz", "/readyz"]}
    )
    anonymous = await platform.client.get("/metrics")
    assert anonymous.status_code == 401
    viewer = await platform.client.get("/metrics", headers=platform.auth("vera"))
    assert viewer.status_code == 403
    admin = await platform.client.get("/metrics", headers=platform.auth("alice"))
    assert admin.status_code == 200
