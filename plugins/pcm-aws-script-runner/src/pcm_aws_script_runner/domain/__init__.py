"""The script runner's states and kinds: ``StrEnum`` values and the sets derived from them.

Standard library only. The values are what the database, the API and the exports hold;
each set (terminal, error, rerun, ...) is defined once, here.
"""

from __future__ import annotations

from pcm_aws_script_runner.domain.executions import (
    DETAILS_SPELLINGS,
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
    RerunKind,
    TargetKind,
    details_beside,
)
from pcm_aws_script_runner.domain.inventory import (
    InstanceState,
    PingStatus,
    Platform,
    SyncStatus,
)

__all__ = [
    "DETAILS_SPELLINGS",
    "ERROR_STATUSES",
    "FINISHED",
    "INSTANCE_STATUS_ORDER",
    "NOT_SENT_STATUSES",
    "RERUN_STATUSES",
    "RUNNING_BATCHES",
    "TERMINAL_STATUSES",
    "UNSENT_BATCHES",
    "BatchStatus",
    "ExecutionStatus",
    "InstanceState",
    "InstanceStatus",
    "PingStatus",
    "Platform",
    "RerunKind",
    "SyncStatus",
    "TargetKind",
    "details_beside",
]
