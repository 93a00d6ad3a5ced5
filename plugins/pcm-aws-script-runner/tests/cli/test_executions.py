"""The whole flow through the command line: preview, run --wait, list, show, export, rerun,
cancel, and clear errors for bad input. The server of the test runs the jobs the CLI
enqueues."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pcm_aws_common.testing import InvocationOutcome

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

FAST = {
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.05",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.2",
}


TESTS_DIR = Path(__file__).parents[1]


def install_test_plugins(folder: Path, *modules: str) -> str:
    """Make modules of ``tests/pcm_sr_test_plugins`` installed plugins for a process started
    with the returned ``PYTHONPATH``: ``folder`` gets a distribution's ``.dist-info`` whose
    entry points name them (``check_fails`` is plugin ``sr-check-fails``)."""
    info = folder / "pcm_sr_test_plugins-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pcm-sr-test-plugins\nVersion: 0\n")
    lines = [f"sr-{m.replace('_', '-')} = pcm_sr_test_plugins.{m}" for m in modules]
    (info / "entry_points.txt").write_text("[pcm_ops.plugins]\n" + "\n".join(lines) + "\n")
    return os.pathsep.join([str(folder), str(TESTS_DIR)])


async def cli(
    settings: Any,
    moto: Any,
    *args: str,
    plugins: tuple[str, ...] = (),
    pythonpath: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    env.update(
        {
            "PCM_DATA_DIR": str(settings.data_dir),
            "PCM_PLUGINS": ",".join(["aws-common", "aws-script-runner", *plugins]),
            "PCM_AWS_COMMON__ENDPOINT_URL": moto.endpoint_url,
            **FAST,
        }
    )
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    if settings.database_url:
        env["PCM_DATABASE_URL"] = settings.database_url
    command = [str(Path(sys.executable).with_name("pcm-ops")), "script-runner", "executions", *args]
    # The application serving the jobs runs on this event loop: do not block it.
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
    )


async def test_the_whole_flow_through_the_cli(make_fleet, moto_aws, pcm_settings):
    fleet = await make_fleet(us_east_1=3, eu_west_1=2)
    await fleet.script("hello")
    bad = fleet.instances["eu-west-1"][0]
    moto_aws.ssm.set_default_outcome(InvocationOutcome("Failed", error="=nope"), instance_id=bad)
    targets = ",".join(fleet.all_ids())

    preview = await cli(
        pcm_settings, moto_aws, "run", "hello", "--instance", targets, "--preview", "--json"
    )
    assert preview.returncode == 0, preview.stderr
    plan = json.loads(preview.stdout)
    assert plan["instances"] == 5
    assert {row["region"] for row in plan["account_regions"]} == {"us-east-1", "eu-west-1"}

    ran = await cli(
        pcm_settings,
        moto_aws,
        "run",
        "hello",
        "--instance",
        targets,
        "--param",
        "who=cli",
        "--max-errors",
        "3",
        "--wait",
        "--json",
    )
    assert ran.returncode == 1, ran.stderr  # one instance failed
    result = json.loads(ran.stdout)
    assert result["status"] == "failed"
    assert result["counts"] == {"Success": 4, "Failed": 1}
    assert result["requested_by"].startswith("cli:")

    listed = await cli(pcm_settings, moto_aws, "list")
    assert listed.returncode == 0
    assert f"{result['id']:>6}  failed" in listed.stdout
    shown = await cli(pcm_settings, moto_aws, "show", str(result["id"]), "--output")
    assert f"{bad} {fleet.account_id} eu-west-1" in shown.stdout
    assert "! =nope" in shown.stdout
    shown_json = await cli(pcm_settings, moto_aws, "show", str(result["id"]), "--json")
    assert shown_json.returncode == 0, shown_json.stderr
    document = json.loads(shown_json.stdout)  # written a page of instances at a time
    assert document["id"] == result["id"]
    assert document["counts"] == {"Success": 4, "Failed": 1}
    assert sorted(row["status"] for row in document["instances"]) == ["Failed", *["Success"] * 4]
    exported = await cli(pcm_settings, moto_aws, "export", str(result["id"]), "--format", "json")
    assert {row["status"] for row in json.loads(exported.stdout)} == {"Success", "Failed"}
    as_csv = await cli(pcm_settings, moto_aws, "export", str(result["id"]))
    [failed] = [row for row in csv.DictReader(io.StringIO(as_csv.stdout)) if row["stderr"]]
    assert failed["stderr"].startswith("'=nope")  # text for a spreadsheet, not a formula
    assert "=nope" in json.dumps(json.loads(exported.stdout))  # JSON keeps the value as it is

    moto_aws.ssm.set_default_outcome(InvocationOutcome("Success"), instance_id=bad)
    rerun = await cli(pcm_settings, moto_aws, "rerun", str(result["id"]), "--wait")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1 instances" in rerun.stdout
    late = await cli(pcm_settings, moto_aws, "cancel", str(result["id"]))
    assert late.returncode == 1
    assert "already failed" in late.stderr


async def test_bad_input_on_the_cli_is_a_clear_message(make_fleet, moto_aws, pcm_settings):
    fleet = await make_fleet(us_east_1=1)
    await fleet.script("hello")
    target = fleet.all_ids()[0]

    zero = await cli(
        pcm_settings, moto_aws, "run", "hello", "--instance", target, "--max-concurrency", "0"
    )
    unknown = await cli(pcm_settings, moto_aws, "run", "nope", "--instance", target)
    param = await cli(
        pcm_settings, moto_aws, "run", "hello", "--instance", target, "--param", "colour=red"
    )

    assert zero.returncode == 1
    assert "max_concurrency: must be at least 1" in zero.stderr
    assert "Traceback" not in zero.stderr
    assert unknown.returncode == 1
    assert "nope" in unknown.stderr
    assert "parameters.colour: unknown parameter" in param.stderr


async def test_a_preview_that_a_check_blocks_exits_1_with_the_reason(
    make_fleet, moto_aws, pcm_settings, tmp_path
):
    fleet = await make_fleet(us_east_1=1)
    await fleet.script("hello")
    target = fleet.all_ids()[0]
    path = install_test_plugins(tmp_path / "site", "check_fails")
    preview = ("run", "hello", "--instance", target, "--preview")
    options = {"plugins": ("sr-check-fails",), "pythonpath": path}

    blocked = await cli(pcm_settings, moto_aws, *preview, **options)
    blocked_json = await cli(pcm_settings, moto_aws, *preview, "--json", **options)
    approved = await cli(pcm_settings, moto_aws, *preview, "--change", "CHG0000001", **options)

    reason = "change CHG0000042 is not approved"
    assert blocked.returncode == 1, blocked.stderr
    assert f"check sr-check-fails: BLOCKS: {reason}" in blocked.stdout
    assert blocked.stderr.strip() == (
        f"Error: the run would be blocked by pre-execution checks: sr-check-fails: {reason}"
    )
    assert blocked_json.returncode == 1
    assert json.loads(blocked_json.stdout)["checks"] == [
        {"plugin": "sr-check-fails", "ok": False, "reason": reason}
    ]
    assert approved.returncode == 0, approved.stderr
    assert "check sr-check-fails: ok" in approved.stdout
