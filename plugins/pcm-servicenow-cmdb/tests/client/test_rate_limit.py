"""At most rate_limit_per_second requests start in any window of one second."""

import asyncio

import pytest

import pcm_servicenow_cmdb.client as client_module
from pcm_servicenow_cmdb.client import RateLimiter


@pytest.fixture
def frozen_clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(client_module, "_clock", lambda: now[0])
    return now


async def test_requests_beyond_the_rate_wait_for_the_window(
    connect, servicenow, sleep, frozen_clock
):
    async with connect(rate_limit_per_second=2) as client:
        for _ in range(5):
            await client.records("change_request")
    assert sleep.waits == [1.0, 1.0, 2.0]
    assert client.request_count == 5


async def test_concurrent_callers_queue_in_order(sleep, frozen_clock):
    limiter = RateLimiter(3, sleep)
    await asyncio.gather(*(limiter.acquire() for _ in range(7)))
    assert sleep.waits == [1.0, 1.0, 1.0, 2.0]


async def test_time_passing_frees_the_window(sleep, frozen_clock):
    limiter = RateLimiter(2, sleep)
    await limiter.acquire()
    await limiter.acquire()
    frozen_clock[0] += 1.5
    await limiter.acquire()
    assert sleep.waits == []


async def test_a_rate_below_one_spaces_requests(sleep, frozen_clock):
    limiter = RateLimiter(0.5, sleep)
    for _ in range(3):
        await limiter.acquire()
    assert sleep.waits == [2.0, 4.0]


async def test_token_requests_count_against_the_rate(
    connect, servicenow, oauth_client, sleep, frozen_clock
):
    async with connect(rate_limit_per_second=1, **oauth_client) as client:
        await client.records("change_request")
    assert sleep.waits == [1.0]
