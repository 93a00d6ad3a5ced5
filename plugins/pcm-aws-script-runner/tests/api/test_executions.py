"""The executions API: what it refuses (each with a clear 4xx naming the field), who may do
what, the preview, the live stream, history, export, rerun and clone."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pcm_aws_common.testing import InvocationOutcome

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

API = "/api/tools/aws/script-runner"

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


def _fields(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {
        ".".join(map(str, d["loc"][1:]))
        if d["loc"][0] == "body"
        else ".".join(map(str, d["loc"])): d["msg"]
        for d in response.json()["detail"]
    }


@SQLITE_ONLY
async def test_each_invalid_input_gets_a_4xx_naming_the_field(make_fleet):
    fleet = await make_fleet(us_east_1=2)
    script_id = await fleet.script(
        "needs-a-service",
        parameters=[{"name": "service", "type": "string", "required": True}],
    )
    ids = fleet.all_ids()
    base = {
        "script_id": script_id,
        "parameters": {"service": "nginx"},
        "targets": {"instance_ids": ids},
    }

    async def refused(**changes):
        return _fields(await fleet.post("/executions", json={**base, **changes}))

    unknown_version = await refused(script_version=7)
    assert "no version 7" in unknown_version["script_version"]
    missing = await refused(parameters={})
    assert "required" in missing["parameters.service"]
    unknown_parameter = await refused(parameters={"service": "x", "colour": "red"})
    assert "unknown parameter" in unknown_parameter["parameters.colour"]
    foreign = await refused(
        targets={
            "instances": [
                {
                    "instance_id": "i-0123456789abcdef0",
                    "account_id": "999999999999",
                    "region": "us-east-1",
                }
            ]
        }
    )
    assert "999999999999 is not registered" in foreign["targets.instances"]
    zero = await refused(max_concurrency=0)
    assert "at least 1" in zero["max_concurrency"]
    percent = await refused(max_errors="150%")
    assert "at most 100%" in percent["max_errors"]
    too_long = await refused(execution_timeout_seconds=172_801)
    assert "out of range" in too_long["execution_timeout_seconds"]
    too_short = await refused(delivery_timeout_seconds=5)
    assert "out of range" in too_short["delivery_timeout_seconds"]
    unknown_script = await refused(script_id=999_999)
    assert "no script 999999" in unknown_script["script_id"]
    not_synced = await refused(targets={"instance_ids": ["i-0123456789abcdef9"]})
    assert "not in the inventory" in not_synced["targets.instance_ids"]
    two_kinds = await refused(targets={"instance_ids": ids, "saved_filter_id": 3})
    assert "exactly one" in two_kinds["targets"]
    bucket = await refused(output_s3_bucket="Not A Bucket")
    assert "S3 bucket" in bucket["output_s3_bucket"]
    wrong_type = await fleet.post("/executions", json={**base, "script_id": "abc"})
    assert wrong_type.status_code == 422
    # Nothing was recorded by any of them.
    history = await fleet.get("/executions")
    assert history.json()["total"] == 0


@SQLITE_ONLY
async def test_a_target_filter_takes_the_inventory_query_names(make_fleet):
    fleet = await make_fleet(us_east_1=3, us_west_2=2)
    script_id = await fleet.script()

    async def preview(flt):
        body = {"script_id": script_id, "targets": {"filter": flt}}
        return await fleet.post("/executions/preview", json=body)

    as_inventory = await preview({"region": ["us-west-2"], "q": "i-"})
    with_values = await preview(
        {"account_id": [fleet.account_id], "state": ["running"], "ping_status": ["online"]}
    )
    as_before = await preview({"regions": ["us-west-2"], "search": "i-"})
    assert as_inventory.status_code == 200, as_inventory.text
    assert as_inventory.json()["instances"] == 2
    assert with_values.json()["instances"] == 5
    assert as_before.status_code == 200, as_before.text
    assert as_before.json()["instances"] == 2
    # Tags in each form are understood (the fleet helper writes no tag rows, so none match).
    for tags in ({"tag": ["Team=web"]}, {"tag": [{"key": "Team"}]}, {"tags": ["Team"]}):
        assert _fields(await preview(tags)) == {"targets.filter": "resolves to no instance"}

    bad_region = _fields(await preview({"region": ["mars-1"]}))
    assert "not an AWS region" in bad_region["targets.filter.region.0"]
    bad_tag = _fields(await preview({"tag": ["=web"]}))
    assert "at least 1 character" in bad_tag["targets.filter.tag.0.key"]
    unknown = _fields(await preview({"colour": ["red"]}))
    assert "targets.filter.colour" in unknown

    spec = (await fleet.client.get("/openapi.json", headers=await fleet.auth("admin"))).json()
    schemas = spec["components"]["schemas"]
    filter_ref = schemas["TargetsIn"]["properties"]["filter"]["anyOf"][0]["$ref"]
    fields = schemas[filter_ref.rsplit("/", 1)[1]]["properties"]
    assert set(fields) == {"account_id", "region", "state", "platform", "ping_status", "tag", "q"}


@SQLITE_ONLY
async def test_a_viewer_reads_but_cannot_start_or_cancel(make_fleet):
    fleet = await make_fleet(us_east_1=2)
    body = {"script_id": await fleet.script(), "targets": {"instance_ids": fleet.all_ids()}}

    refused = await fleet.post("/executions", "viewer", json=body)
    preview = await fleet.post("/executions/preview", "viewer", json=body)
    assert refused.status_code == 403
    assert preview.status_code == 403
    execution = await fleet.start()
    await fleet.wait(execution["id"])
    assert (await fleet.get(f"/executions/{execution['id']}", "viewer")).status_code == 200
    cancel = await fleet.post(f"/executions/{execution['id']}/cancel", "viewer")
    assert cancel.status_code == 403
    anonymous = await fleet.client.get(f"{API}/executions")
    assert anonymous.status_code == 401


@SQLITE_ONLY
async def test_the_preview_shows_account_regions_and_skipped_instances(make_fleet):
    from sqlmodel import select

    from pcm_aws_script_runner.models import AwsSrInstance

    fleet = await make_fleet(us_east_1=60, eu_west_1=3)
    offline = fleet.instances["eu-west-1"][0]
    async with fleet.app.state.database.session() as session:
        row = (
            await session.exec(select(AwsSrInstance).where(AwsSrInstance.instance_id == offline))
        ).one()
        row.ping_status = "ConnectionLost"
        session.add(row)

    response = await fleet.post(
        "/executions/preview",
        json={
            "script_id": await fleet.script(),
            "targets": {"instance_ids": fleet.all_ids()},
            "parameters": {"token": "abc"},
        },
    )

    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["instances"] == 62
    assert plan["skipped"] == 1
    assert plan["parameters"]["token"] == "********"
    rows = {r["region"]: r for r in plan["account_regions"]}
    assert rows["us-east-1"]["send_commands"] == 2
    assert rows["us-east-1"]["instances"] == 60
    assert rows["eu-west-1"] == {
        "account_id": fleet.account_id,
        "region": "eu-west-1",
        "instances": 2,
        "skipped": 1,
        "send_commands": 1,
    }
    assert plan["skipped_instances"][0]["instance_id"] == offline
    assert "ConnectionLost" in plan["skipped_instances"][0]["reason"]
    assert plan["blocked"] is False

    # The run skips it too, and says why.
    execution = await fleet.start(max_concurrency="100%")
    done = await fleet.wait(execution["id"])
    assert done["counts"] == {"Success": 62, "Skipped": 1}
    assert done["status"] == "succeeded"


async def test_the_event_stream_carries_every_instance_result(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=4, us_west_2=3)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success", output="all good"))
    execution = await fleet.start()
    await fleet.wait(execution["id"])

    response = await fleet.get(f"/executions/{execution['id']}/events")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if "event:" in block]
    kinds = [
        line.split(": ", 1)[1]
        for block in events
        for line in block.splitlines()
        if line.startswith("event:")
    ]
    assert kinds[-1] == "end"
    results = {}
    for block in events:
        if "event: instances" in block:
            data = json.loads(
                next(line[6:] for line in block.splitlines() if line.startswith("data: "))
            )
            for row in data["data"]["instances"]:
                results[row["instance_id"]] = row
    assert set(results) == set(fleet.all_ids())
    assert {row["status"] for row in results.values()} == {"Success"}
    assert {row["stdout"] for row in results.values()} == {"all good"}
    # A client that reconnects after the last id gets nothing again but the end.
    last = max(
        int(line[4:]) for block in events for line in block.splitlines() if line.startswith("id: ")
    )
    resumed = await fleet.get(
        f"/executions/{execution['id']}/events", headers={"Last-Event-ID": str(last)}
    )
    assert "event: instances" not in resumed.text
    assert "event: end" in resumed.text


@SQLITE_ONLY
async def test_rerun_takes_only_the_failed_instances_and_clone_takes_all(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=3, us_west_2=2)
    bad = fleet.instances["us-west-2"][1]
    moto_aws.ssm.set_default_outcome(InvocationOutcome("TimedOut"), instance_id=bad)
    first = await fleet.start(max_errors=5, parameters={"token": "t0ps3cret"})
    done = await fleet.wait(first["id"])
    assert done["status"] == "failed"
    assert done["counts"] == {"Success": 4, "TimedOut": 1}

    rerun = await fleet.post(f"/executions/{first['id']}/rerun")
    assert rerun.status_code == 201, rerun.text
    second = rerun.json()["execution"]
    assert second["rerun_of"] == first["id"]
    assert second["rerun_kind"] == "failed"
    assert second["target_count"] == 1
    assert second["parameters"]["token"] == "********"
    clone = await fleet.post(f"/executions/{first['id']}/clone")
    assert clone.status_code == 201, clone.text
    assert clone.json()["execution"]["target_count"] == 5
    assert clone.json()["execution"]["script_version"] == first["script_version"]

    running = await fleet.start()
    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    too_early = await fleet.post(f"/executions/{running['id']}/rerun")
    assert too_early.status_code == 409
    # Leave no run going when the app stops (a workflow cut off mid-poll at shutdown).
    for execution_id in (second["id"], clone.json()["execution"]["id"], running["id"]):
        await fleet.post(f"/executions/{execution_id}/cancel")
        await fleet.wait(execution_id)


@SQLITE_ONLY
async def test_rerun_refuses_an_unknown_kind_naming_the_allowed_ones(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=2)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed"))
    first = await fleet.start()
    await fleet.wait(first["id"])

    bogus = _fields(await fleet.post(f"/executions/{first['id']}/rerun", json={"kind": "bogus"}))
    assert "'failed'" in bogus["kind"]
    assert "'clone'" in bogus["kind"]
    extra = _fields(await fleet.post(f"/executions/{first['id']}/rerun", json={"all": True}))
    assert "all" in extra
    history = (await fleet.get("/executions")).json()
    assert history["total"] == 1

    failed = await fleet.post(f"/executions/{first['id']}/rerun", json={"kind": "failed"})
    assert failed.status_code == 201, failed.text
    assert failed.json()["execution"]["rerun_kind"] == "failed"
    every = await fleet.post(f"/executions/{first['id']}/rerun", json={"kind": "clone"})
    assert every.status_code == 201, every.text
    assert every.json()["execution"]["rerun_kind"] == "clone"
    assert every.json()["execution"]["target_count"] == 2
    # Both run to their end before the test's app stops.
    await fleet.wait(failed.json()["execution"]["id"])
    await fleet.wait(every.json()["execution"]["id"])


async def test_history_filters_and_exports(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=2)
    other = await fleet.script("other")
    one = await fleet.start()
    await fleet.wait(one["id"])
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed"))
    two = await fleet.start(script_id=other)
    await fleet.wait(two["id"])

    failed = (await fleet.get("/executions", params={"status": "failed"})).json()
    by_script = (await fleet.get("/executions", params={"script_id": other})).json()
    by_account = (await fleet.get("/executions", params={"account_id": fleet.account_id})).json()
    elsewhere = (await fleet.get("/executions", params={"account_id": "123456789012"})).json()
    assert [e["id"] for e in failed["items"]] == [two["id"]]
    assert [e["id"] for e in by_script["items"]] == [two["id"]]
    assert [e["id"] for e in by_account["items"]] == [two["id"], one["id"]]
    assert elsewhere["total"] == 0
    bad_filter = await fleet.get("/executions", params={"status": "exploded"})
    assert bad_filter.status_code == 422

    exported = await fleet.get("/executions/export", params={"format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["id"]) for r in rows] == [two["id"], one["id"]]
    assert rows[0]["status"] == "failed"
    assert len(rows[0]["script_sha256"]) == 64
    as_json = (
        await fleet.get("/executions/export", params={"format": "json", "status": "succeeded"})
    ).json()
    assert [e["id"] for e in as_json] == [one["id"]]
    results = await fleet.get(f"/executions/{two['id']}/export", params={"format": "csv"})
    result_rows = list(csv.DictReader(io.StringIO(results.text)))
    assert {r["status"] for r in result_rows} == {"Failed"}
    assert len(result_rows) == 2


async def test_exports_leave_empty_cells_empty_and_guard_only_formula_starts(make_fleet, moto_aws):
    fleet = await make_fleet(us_east_1=1)
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success", output="=SUM(A1)\n-1 left"))
    execution = await fleet.start()
    await fleet.wait(execution["id"])

    results = await fleet.get(f"/executions/{execution['id']}/export", params={"format": "csv"})
    (row,) = csv.DictReader(io.StringIO(results.text))
    assert row["stderr"] == ""
    assert row["skip_reason"] == ""
    assert row["stdout"] == "'=SUM(A1)\n-1 left"
    history = await fleet.get("/executions/export", params={"format": "csv"})
    (summary,) = csv.DictReader(io.StringIO(history.text))
    assert summary["status_reason"] == ""
    assert summary["status"] == "succeeded"


@SQLITE_ONLY
async def test_starting_is_audited_with_the_sha256_and_masked_secrets(make_fleet):
    fleet = await make_fleet(us_east_1=2)
    execution = await fleet.start(parameters={"who": "ops", "token": "hunter2"})
    await fleet.wait(execution["id"])

    audit = await fleet.client.get(
        "/api/audit",
        params={"action": "aws-script-runner.execution.start"},
        headers=await fleet.auth("admin"),
    )
    assert audit.status_code == 200, audit.text
    events = audit.json()["events"]
    assert len(events) == 1
    details = events[0]["details"]
    assert details["script_sha256"] == execution["script_sha256"]
    assert details["parameters"] == {"who": "ops", "token": "********"}
    assert sorted(details["instances"]) == sorted(fleet.all_ids())
    assert details["instance_count"] == 2
    assert "hunter2" not in json.dumps(audit.json())
    detail = await fleet.get(f"/executions/{execution['id']}")
    assert "hunter2" not in detail.text


@SQLITE_ONLY
async def test_the_start_audit_record_is_the_same_size_for_a_large_fleet(make_fleet):
    """It carried every instance id (about 1 MB at 50,000): now the count, the first 100
    ids and how the targets were chosen, cut like the detail's ``target_spec``."""
    fleet = await make_fleet(us_east_1=150)
    ids = fleet.all_ids()
    execution = await fleet.start(targets={"instance_ids": ids})
    await fleet.wait(execution["id"])

    audit = await fleet.client.get(
        "/api/audit",
        params={"action": "aws-script-runner.execution.start"},
        headers=await fleet.auth("admin"),
    )
    [event] = audit.json()["events"]
    details = event["details"]
    assert details["instance_count"] == 150
    assert details["instances"] == ids[:100]
    assert details["targets"]["instance_ids"] == ids[:20]
    assert details["targets"]["instance_ids_count"] == 150
    assert len(json.dumps(details)) < 5000
