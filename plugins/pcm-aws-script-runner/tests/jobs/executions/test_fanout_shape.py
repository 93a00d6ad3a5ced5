"""The shape of an execution's work as its fleet grows: no ORM object per target while it
runs (the benchmark, bench/fanout_bench.py, measures times and memory; the number of
``ListCommandInvocations`` calls is test_poll_schedule.py's)."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from pcm_aws_script_runner.models import AwsSrExecutionTarget

pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def _run_listening(fleet, target, identifier, listener):
    """Run a script on the whole fleet with ``listener`` on SQLAlchemy's ``identifier``
    event of ``target``; the finished execution."""
    event.listen(target, identifier, listener)
    try:
        execution = await fleet.start(max_concurrency="100%")
        return await fleet.wait(execution["id"])
    finally:
        event.remove(target, identifier, listener)


@SQLITE_ONLY
async def test_a_run_builds_no_orm_object_per_target(make_fleet):
    fleet = await make_fleet(us_east_1=60, us_west_2=60)  # 4 batches
    loaded: list[str] = []

    def on_load(target, context):
        loaded.append(target.instance_id)

    done = await _run_listening(fleet, AwsSrExecutionTarget, "load", on_load)

    assert done["counts"] == {"Success": 120}
    # Start (one INSERT), send (UPDATE by instance id), poll (rows as tuples, one
    # executemany UPDATE), the detail (counts): none of them builds a target object.
    assert loaded == []


@SQLITE_ONLY
async def test_no_step_counts_every_target_of_the_execution(make_fleet):
    """The counts are kept by each step from the rows it changed: no ``GROUP BY`` over all
    the execution's targets per batch sent or per poll (O(targets x batches) before)."""
    fleet = await make_fleet(us_east_1=60, us_west_2=60)  # 4 batches
    full_counts: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        if (
            "GROUP BY aws_sr_execution_target.status" in statement
            and "instance_id IN" not in statement
        ):
            full_counts.append(statement)

    done = await _run_listening(fleet, Engine, "before_cursor_execute", on_execute)

    assert done["counts"] == {"Success": 120}
    assert full_counts == []
