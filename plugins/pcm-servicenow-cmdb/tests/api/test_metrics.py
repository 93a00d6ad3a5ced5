"""``pcm_servicenow_requests_total`` on ``/metrics``: every Table API request to the fake
ServiceNow over HTTP, by connection, method, table and outcome, with no record id or
credential in its labels."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD

CHANGES = "/api/tools/servicenow/cmdb/changes"


async def requests(client: Any) -> tuple[str, dict[tuple[str, ...], float]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "pcm_servicenow_requests_total":
                labels = sample.labels
                key = tuple(labels[n] for n in ("connection", "method", "table", "outcome"))
                found[key] = sample.value
    return response.text, found


async def test_requests_are_counted_by_connection_method_table_and_outcome(
    pcm_admin_client: Any, connected: Any
) -> None:
    _, before = await requests(pcm_admin_client)

    connected.add("change_request", short_description="Patch the web tier", state="-1")
    listed = await pcm_admin_client.get(CHANGES, params={"refresh": "true"})
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == 1
    connected.fail_next(429, retry_after=0)
    again = await pcm_admin_client.get(CHANGES, params={"refresh": "true"})
    assert again.status_code == 200, again.text
    connected.fail_next(403)
    refused = await pcm_admin_client.get(CHANGES, params={"refresh": "true"})
    assert refused.status_code >= 400

    text, after = await requests(pcm_admin_client)
    grew = {key: value - before.get(key, 0.0) for key, value in after.items()}
    assert grew[("acme", "GET", "change_request", "ok")] >= 2
    assert grew[("acme", "GET", "change_request", "rate_limited")] == 1
    assert grew[("acme", "GET", "change_request", "error")] == 1
    assert all(len(key[2]) < 40 for key in after)  # tables, never a 32-digit sys_id
    assert DEFAULT_PASSWORD not in text
