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


async def test_the_database_gauges_are_read_at_most_once_per_refresh_interval(
    platform: Any,
) -> None:
    from pcm_ops.metrics import on_scrape

    reads: list[int] = []

    async def count(app: Any) -> None:
        reads.append(1)

    on_scrape(platform.app, count)
    platform.app.state.settings = platform.settings.model_copy(
        update={"metrics_refresh_seconds": 60}
    )
    for _ in range(5):
        assert (await platform.client.get("/metrics")).status_code == 200
    slow = len(reads)
    platform.app.state.settings = platform.settings.model_copy(
        update={"metrics_refresh_seconds": 0}
    )
    for _ in range(3):
        await platform.client.get("/metrics")

    assert slow <= 1  # five scrapes inside one interval: at most one read
    assert len(reads) == slow + 3  # with 0, every scrape reads
