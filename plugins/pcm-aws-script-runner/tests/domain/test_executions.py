"""The states of executions, batches and instances, and the sets derived from them."""

from __future__ import annotations

from pcm_aws_script_runner.domain import (
    ERROR_STATUSES,
    FINISHED,
    INSTANCE_STATUS_ORDER,
    NOT_SENT_STATUSES,
    RERUN_STATUSES,
    RUNNING_BATCHES,
    TERMINAL_STATUSES,
    UNSENT_BATCHES,
    BatchStatus,
    ExecutionStatus,
    InstanceStatus,
)


def test_statuses_are_the_plain_strings_the_database_holds():
    assert ExecutionStatus.SUCCEEDED == "succeeded"
    assert f"{InstanceStatus.TIMED_OUT}" == "TimedOut"
    assert str(BatchStatus.NOT_SENT) == "not_sent"


def test_an_execution_is_finished_once_it_succeeded_failed_or_was_cancelled():
    assert {"succeeded", "failed", "cancelled"} == FINISHED


def test_every_error_status_is_terminal_and_counts_against_max_errors():
    assert ERROR_STATUSES < TERMINAL_STATUSES
    assert InstanceStatus.SUCCESS not in ERROR_STATUSES
    assert InstanceStatus.CANCELLED not in ERROR_STATUSES


def test_a_rerun_takes_the_failed_the_cancelled_and_the_never_sent_instances():
    assert ERROR_STATUSES | {"Cancelled", "NotSent"} == RERUN_STATUSES
    assert InstanceStatus.SKIPPED not in RERUN_STATUSES
    assert InstanceStatus.NOT_SENT in NOT_SENT_STATUSES


def test_a_batch_is_either_waiting_to_be_sent_or_polled_never_both():
    assert not UNSENT_BATCHES & RUNNING_BATCHES
    assert BatchStatus.FINISHED not in UNSENT_BATCHES | RUNNING_BATCHES


def test_counters_show_every_instance_status_once():
    assert len(INSTANCE_STATUS_ORDER) == len(set(INSTANCE_STATUS_ORDER)) == len(InstanceStatus)
