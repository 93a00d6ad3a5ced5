"""record(), patch() and check() against the fake."""

import asyncio

import pytest

from pcm_servicenow_cmdb.client import ServiceNowNotFound


async def test_record_reads_one_record(connect, servicenow):
    change = servicenow.add("change_request", number="CHG0000042", state=-1)
    async with connect() as client:
        record = await client.record("change_request", change, fields=["number", "state"])
    assert record == {"number": "CHG0000042", "state": "-1"}


async def test_record_with_display_values(connect, servicenow):
    change = servicenow.add("change_request", state=-1)
    async with connect() as client:
        record = await client.record(
            "change_request", change, fields=["state"], display_value="all"
        )
    assert record == {"state": {"display_value": "Implement", "value": "-1"}}


async def test_a_hidden_record_is_not_found(connect, servicenow):
    change = servicenow.add("change_request")
    servicenow.hide("change_request", change)
    async with connect() as client:
        with pytest.raises(ServiceNowNotFound):
            await client.record("change_request", change)


async def test_patch_appends_a_work_note_and_answers_the_record(connect, servicenow):
    change = servicenow.add("change_request", state=-1)
    async with connect() as client:
        first = await client.patch("change_request", change, {"work_notes": "Run 7 started"})
        await client.patch("change_request", change, {"work_notes": "Run 7 ended"})
    assert servicenow.journal(change) == ["Run 7 started", "Run 7 ended"]
    assert first["sys_id"] == change
    assert first["work_notes"] == ""


async def test_patch_sends_json(connect, servicenow):
    change = servicenow.add("change_request", state=-1)
    async with connect() as client:
        await client.patch("change_request", change, {"state": "0", "close_code": "successful"})
    record = servicenow.get(change)
    assert (record["state"], record["close_code"]) == ("0", "successful")


async def test_one_client_serves_concurrent_calls_on_one_pool(connect, servicenow):
    for i in range(5):
        servicenow.add("change_request", number=f"CHG{i:07d}")
    servicenow.set_latency(0.05)
    async with connect() as client:
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(*(client.records("change_request") for _ in range(8)))
        elapsed = asyncio.get_running_loop().time() - started
    assert all(len(result) == 5 for result in results)
    assert elapsed < 0.05 * 8 / 2  # overlapped, not one after the other
