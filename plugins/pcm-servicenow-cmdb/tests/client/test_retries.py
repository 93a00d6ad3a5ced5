"""429 waits for Retry-After within a cap and a budget; 5xx and network errors are retried
for reads only; a PATCH that may have reached ServiceNow is never sent again."""

import socket

import pytest

from pcm_servicenow_cmdb.client import ServiceNowUnavailable


async def test_429_is_retried_after_retry_after(connect, servicenow, sleep):
    servicenow.add("change_request")
    servicenow.fail_next(429, times=2, retry_after=2)
    async with connect() as client:
        records = await client.records("change_request")
    assert len(records) == 1
    assert sleep.waits == [2, 2]
    assert client.request_count == 3
    assert len(servicenow.table_requests("change_request")) == 3


async def test_429_waits_really(connect, servicenow):
    servicenow.fail_next(429, retry_after=0.05)
    async with connect(real_sleep=True) as client:
        await client.records("change_request")
    assert client.request_count == 2


async def test_429_without_retry_after_backs_off(connect, servicenow, sleep):
    servicenow.fail_next(429)
    async with connect() as client:
        await client.records("change_request")
    assert sleep.waits == [0.5]


async def test_a_retry_after_beyond_the_cap_ends_the_call_at_once(connect, servicenow, sleep):
    servicenow.fail_next(429, retry_after=120)
    async with connect(max_retry_after_seconds=30) as client:
        with pytest.raises(ServiceNowUnavailable, match="asked to wait 120 s") as caught:
            await client.records("change_request")
    assert sleep.waits == []
    assert client.request_count == 1
    assert caught.value.status == 429


async def test_429_beyond_the_budget_is_unavailable(connect, servicenow, sleep):
    servicenow.fail_next(429, times=10, retry_after=2)
    async with connect(retry_budget_seconds=5) as client:
        with pytest.raises(ServiceNowUnavailable, match="retry budget 5 s") as caught:
            await client.records("change_request")
    assert sleep.waits == [2, 2]
    assert client.request_count == 3
    assert "'fake'" in str(caught.value)
    assert "GET change_request" in str(caught.value)
    assert "Too Many Requests" in str(caught.value)


async def test_endless_429s_with_retry_after_0_end(connect, servicenow, sleep):
    servicenow.fail_next(429, times=100, retry_after=0)
    async with connect() as client:
        with pytest.raises(ServiceNowUnavailable):
            await client.records("change_request")
    assert client.request_count == 21


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_read_is_retried_on_5xx_with_exponential_backoff(
    connect, servicenow, sleep, status
):
    servicenow.fail_next(status, times=2)
    async with connect() as client:
        assert await client.records("change_request") == []
    assert sleep.waits == [0.5, 1.0]
    assert client.request_count == 3


async def test_a_read_failing_after_its_retries_is_unavailable(connect, servicenow, sleep):
    servicenow.fail_next(503, times=5)
    async with connect(retries=2) as client:
        with pytest.raises(ServiceNowUnavailable, match=r"HTTP 503") as caught:
            await client.records("change_request")
    assert client.request_count == 3
    assert caught.value.status == 503


async def test_an_outage_is_unavailable(connect, servicenow, sleep):
    servicenow.outage(True)
    async with connect(retries=1) as client:
        with pytest.raises(ServiceNowUnavailable) as caught:
            await client.check()
    assert "(HTTP 503): 503 Service Unavailable The instance is not available." in str(caught.value)
    assert not caught.value.outcome_unknown


async def test_backoff_counts_against_the_budget(connect, servicenow, sleep):
    servicenow.fail_next(500, times=5)
    async with connect(retries=5, retry_budget_seconds=2) as client:
        with pytest.raises(ServiceNowUnavailable, match="retry budget"):
            await client.records("change_request")
    assert sleep.waits == [0.5, 1.0]


async def test_patch_is_not_retried_on_500(connect, servicenow, sleep):
    change = servicenow.add("change_request")
    servicenow.fail_next(500)
    async with connect() as client:
        with pytest.raises(ServiceNowUnavailable, match=f"PATCH change_request/{change}") as caught:
            await client.patch("change_request", change, {"work_notes": "Run 7 started"})
    assert client.request_count == 1
    assert sleep.waits == []
    assert servicenow.journal(change) == []
    assert caught.value.outcome_unknown
    assert "may or may not have been applied, and was not sent again" in str(caught.value)


async def test_patch_is_not_retried_after_a_timeout(connect, servicenow):
    change = servicenow.add("change_request")
    servicenow.set_latency(0.3)
    async with connect(timeout_seconds=0.1) as client:
        with pytest.raises(ServiceNowUnavailable, match="ReadTimeout") as caught:
            await client.patch("change_request", change, {"work_notes": "Run 7 started"})
    assert client.request_count == 1
    assert caught.value.outcome_unknown
    assert len(servicenow.table_requests("change_request", "PATCH")) == 1


async def test_patch_is_retried_after_429_which_was_not_processed(connect, servicenow, sleep):
    change = servicenow.add("change_request")
    servicenow.fail_next(429, retry_after=1)
    async with connect() as client:
        await client.patch("change_request", change, {"work_notes": "Run 7 started"})
    assert sleep.waits == [1]
    assert servicenow.journal(change) == ["Run 7 started"]


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_read_is_retried_when_the_connection_is_refused(connect, sleep):
    async with connect(base_url=closed_port_url(), retries=2) as client:
        with pytest.raises(ServiceNowUnavailable, match="ConnectError") as caught:
            await client.records("change_request")
    assert client.request_count == 3
    assert sleep.waits == [0.5, 1.0]
    assert caught.value.status is None


async def test_a_patch_that_never_left_is_retried(connect, sleep):
    async with connect(base_url=closed_port_url(), retries=1) as client:
        with pytest.raises(ServiceNowUnavailable, match="ConnectError") as caught:
            await client.patch("change_request", "0" * 32, {"work_notes": "x"})
    assert client.request_count == 2
    assert not caught.value.outcome_unknown
