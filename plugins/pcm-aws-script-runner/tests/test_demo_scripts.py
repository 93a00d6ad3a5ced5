"""Demo mode's part in the script runner: the demo scripts seed and the inventory sync."""

from __future__ import annotations

import logging
import sys
from types import ModuleType

import pytest

from pcm_aws_script_runner import demo
from pcm_aws_script_runner.services.scripts import list_scripts
from pcm_ops.db.seeds import run_seeds
from pcm_ops.plugin import SeedContext


def _outcome(outcomes):
    (found,) = [o for o in outcomes if o.owner == "aws-script-runner" and o.name == "demo-scripts"]
    return found


async def test_the_demo_seed_puts_the_demo_scripts_in_the_library(
    pcm_settings, pcm_registry, pcm_migrated_database
):
    outcomes = await run_seeds(pcm_settings, pcm_registry, pcm_migrated_database, demo=True)

    async with pcm_migrated_database.session() as session:
        scripts = await list_scripts(session)
    assert _outcome(outcomes).status.value == "applied"
    assert sorted(s.name for s in scripts) == sorted(s.name for s in demo.DEMO_SCRIPTS)
    assert {s.created_by for s in scripts} == {"demo"}
    by_name = {s.name: s for s in scripts}
    assert by_name["Windows hotfixes and uptime"].language == "powershell"


async def test_the_demo_seed_runs_only_in_demo_mode(
    pcm_settings, pcm_registry, pcm_migrated_database
):
    outcomes = await run_seeds(pcm_settings, pcm_registry, pcm_migrated_database)

    async with pcm_migrated_database.session() as session:
        scripts = await list_scripts(session)
    assert (_outcome(outcomes).status.value, scripts) == ("skipped", [])


async def test_the_demo_seed_leaves_a_script_whose_name_is_taken_alone(
    pcm_settings, pcm_migrated_database
):
    async with pcm_migrated_database.session() as session:
        await demo.seed_demo_scripts(SeedContext(session, pcm_settings, None, True))
    async with pcm_migrated_database.session() as session:
        await demo.seed_demo_scripts(SeedContext(session, pcm_settings, None, True))
        scripts = await list_scripts(session)

    assert len(scripts) == len(demo.DEMO_SCRIPTS)
    assert {s.current_version for s in scripts} == {1}


def test_the_demo_scripts_show_what_the_demo_can_do():
    languages = {s.language for s in demo.DEMO_SCRIPTS}
    parameters = [p for s in demo.DEMO_SCRIPTS for p in s.parameters]
    noisy = [s for s in demo.DEMO_SCRIPTS if "pcm-demo:output-lines=" in s.body]

    assert languages == {"shell", "powershell"}
    assert any(p["name"] == "service" for p in parameters)
    assert any(p.get("secret") for p in parameters)
    assert len(noisy) == 1
    # ~110 characters a line: more than the 24,000 characters GetCommandInvocation returns
    assert int(noisy[0].body.split("output-lines=")[1].split()[0]) * 100 > 24_000


@pytest.fixture
def inventory_module(monkeypatch):
    """A stand-in for services.inventory, recording how the sync is queued."""
    module = ModuleType("pcm_aws_script_runner.services.inventory")
    module.calls = []

    async def enqueue_sync(**arguments):
        module.calls.append(arguments)
        if module.fail:
            raise RuntimeError("the job engine is not running")
        return "job-1"

    module.enqueue_sync = enqueue_sync
    module.fail = False
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


async def test_a_demo_start_queues_an_inventory_sync_of_every_account_and_region(
    inventory_module,
):
    job_id = await demo.sync_inventory()

    assert job_id == "job-1"
    assert inventory_module.calls == [{"account_regions": None, "requested_by": "demo"}]


async def test_a_sync_that_cannot_be_queued_is_logged_and_the_demo_goes_on(
    inventory_module, caplog
):
    inventory_module.fail = True

    with caplog.at_level(logging.ERROR, logger="pcm_aws_script_runner.demo"):
        job_id = await demo.sync_inventory()

    assert job_id is None
    assert "the inventory sync could not be queued" in caplog.text
