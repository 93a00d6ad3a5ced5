"""The pre-execution check runner: every implementation is asked; a failure, an exception,
a timeout or a malformed answer blocks the run, naming the plugin."""

from __future__ import annotations

import pytest

from pcm_aws_script_runner.hooktypes import CheckResult, ExecutionRequest, ResolvedTarget
from pcm_aws_script_runner.services.executions.checks import run_pre_execution_checks

# No database is involved: run once.
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


def execution_request(**overrides) -> ExecutionRequest:
    values = {
        "script_id": 1,
        "script_name": "restart-nginx",
        "script_version": 3,
        "script_sha256": "0" * 64,
        "language": "shell",
        "parameters": {"service": "nginx", "api_token": "********"},
        "targets": (ResolvedTarget("i-0123456789abcdef0", "111122223333", "eu-west-1"),),
        "requested_by": "oscar",
        "change_reference": None,
        "comment": "",
    }
    values.update(overrides)
    return ExecutionRequest(**values)


async def test_with_no_checks_installed_the_run_may_start(make_pcm_registry):
    registry = make_pcm_registry()

    report = await run_pre_execution_checks(registry, execution_request(), None)

    assert report.passed
    assert report.results == ()


async def test_a_passing_check_lets_the_run_start(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    report = await run_pre_execution_checks(registry, execution_request(), None)

    assert report.passed
    assert report.results == (CheckResult(True, "fine", "sr-check-passes"),)


async def test_a_failing_check_blocks_the_run_with_its_reason_and_its_real_plugin(
    make_pcm_registry, hook_plugins
):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes", "check_fails"))

    report = await run_pre_execution_checks(registry, execution_request(), None)

    assert not report.passed
    assert report.failures == [
        CheckResult(False, "change CHG0000042 is not approved", "sr-check-fails")
    ]
    assert report.reason() == "sr-check-fails: change CHG0000042 is not approved"


async def test_a_failing_check_passes_once_its_condition_is_met(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_fails"))

    report = await run_pre_execution_checks(
        registry, execution_request(change_reference="CHG0000001"), None
    )

    assert report.passed


async def test_a_raising_check_counts_as_failed_naming_the_plugin_and_the_others_still_run(
    make_pcm_registry, hook_plugins
):
    registry = make_pcm_registry(
        "aws-script-runner", *hook_plugins("check_raises", "check_passes", "check_fails")
    )

    report = await run_pre_execution_checks(registry, execution_request(), None)

    assert [(r.plugin, r.ok) for r in report.results] == [
        ("sr-check-fails", False),
        ("sr-check-passes", True),
        ("sr-check-raises", False),
    ]
    assert report.failures[1].reason == "the check raised RuntimeError: ServiceNow is down"
    assert registry.get("sr-check-raises").state.value == "loaded"


async def test_a_check_that_does_not_apply_is_left_out(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_misbehaves"))

    report = await run_pre_execution_checks(registry, execution_request(), None)

    assert report.passed
    assert report.results == ()


async def test_a_check_that_answers_nonsense_blocks_the_run(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_misbehaves"))

    report = await run_pre_execution_checks(registry, execution_request(comment="nonsense"), None)

    assert not report.passed
    assert "returned str, not a CheckResult" in report.reason()


async def test_a_check_slower_than_the_timeout_blocks_the_run(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_misbehaves"))

    report = await run_pre_execution_checks(
        registry, execution_request(comment="slow"), None, time_limit=0.05
    )

    assert report.reason() == "sr-check-misbehaves: the check did not answer within 0.05 seconds"


async def test_checks_may_take_the_principal_as_an_argument(make_pcm_registry, hook_plugins):
    from pcm_ops.security import Principal

    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_fails"))
    principal = Principal(1, "oscar", "operator", frozenset(), "token")

    report = await run_pre_execution_checks(
        registry, execution_request(change_reference="CHG0000001"), principal
    )

    assert report.results == (CheckResult(True, "", "sr-check-fails"),)


async def test_checks_are_reported_in_the_order_core_calls_hooks_trylast_ones_last(
    make_pcm_registry, hook_plugins
):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("a_last_check", "check_passes"))

    report = await run_pre_execution_checks(registry, execution_request(), None)

    assert [result.plugin for result in report.results] == ["sr-check-passes", "sr-a-last-check"]
