"""The states of an execution, of its batches and of each instance in it."""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    """An execution's status, in the order it moves through them."""

    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BatchStatus(StrEnum):
    """The state of one planned ``SendCommand`` (at most 50 instances of one account-region)."""

    PLANNED = "planned"
    #: The intent is recorded; the call may have been made (looked up before a resend).
    SENDING = "sending"
    SENT = "sent"
    #: SendCommand was refused: its instances are ``Undeliverable``.
    FAILED = "failed"
    #: Every invocation of the batch ended.
    FINISHED = "finished"
    #: Held back: max errors reached, or cancelled before it was sent.
    NOT_SENT = "not_sent"
    #: SSM accepted the batch's CancelCommand.
    CANCELLED = "cancelled"


class InstanceStatus(StrEnum):
    """One instance's status in an execution: ours before it is sent, then SSM's
    invocation status. Declared in the order the pages' counters show them."""

    PENDING = "Pending"
    SENT = "Sent"
    IN_PROGRESS = "InProgress"
    DELAYED = "Delayed"
    SUCCESS = "Success"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    UNDELIVERABLE = "Undeliverable"
    TERMINATED = "Terminated"
    #: Max errors reached, or cancelled, before its batch was sent.
    NOT_SENT = "NotSent"
    #: Not SSM-online when the execution started.
    SKIPPED = "Skipped"


class TargetKind(StrEnum):
    """How an execution request names its instances (exactly one per request)."""

    INSTANCE_IDS = "instance_ids"
    INSTANCES = "instances"
    FILTER = "filter"
    SAVED_FILTER_ID = "saved_filter_id"
    SOURCE = "source"


class RerunKind(StrEnum):
    """How an execution was made from an earlier one."""

    #: Only the instances of the earlier run that failed, were cancelled or never sent.
    FAILED = "failed"
    #: The same script, parameters, targets and options.
    CLONE = "clone"


#: Execution statuses after which nothing changes.
FINISHED = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})

#: Invocation statuses after which an instance's result does not change.
TERMINAL_STATUSES = frozenset(
    {
        InstanceStatus.SUCCESS,
        InstanceStatus.FAILED,
        InstanceStatus.TIMED_OUT,
        InstanceStatus.CANCELLED,
        InstanceStatus.UNDELIVERABLE,
        InstanceStatus.TERMINATED,
    }
)
#: The statuses that count against max errors (SSM counts the same ones).
ERROR_STATUSES = frozenset(
    {
        InstanceStatus.FAILED,
        InstanceStatus.TIMED_OUT,
        InstanceStatus.UNDELIVERABLE,
        InstanceStatus.TERMINATED,
    }
)
#: Statuses of instances that were never sent the command.
NOT_SENT_STATUSES = frozenset({InstanceStatus.SKIPPED, InstanceStatus.NOT_SENT})
#: What a rerun of the failed instances takes: the errors, the cancelled, the never sent.
RERUN_STATUSES = ERROR_STATUSES | {InstanceStatus.CANCELLED, InstanceStatus.NOT_SENT}
#: Batch states the workflow has yet to send, and those whose invocations it polls.
UNSENT_BATCHES = frozenset({BatchStatus.PLANNED, BatchStatus.SENDING})
RUNNING_BATCHES = frozenset({BatchStatus.SENT, BatchStatus.CANCELLED})
#: Instance statuses in the order counters show them.
INSTANCE_STATUS_ORDER = tuple(InstanceStatus)
#: SSM's ``StatusDetails`` in another spelling of a status: a cancelled invocation's
#: details are "Canceled". Pages show one spelling, the status's.
DETAILS_SPELLINGS = {"Canceled": InstanceStatus.CANCELLED.value}


def details_beside(status: str, details: str) -> str:
    """What a page shows beside an instance's status: ``details``, unless they only repeat
    the status (in SSM's spelling too)."""
    return "" if DETAILS_SPELLINGS.get(details, details) == status else details
