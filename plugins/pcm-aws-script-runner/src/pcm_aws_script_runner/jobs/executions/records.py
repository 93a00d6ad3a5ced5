"""The rows the steps read and write: one batch, and the execution's counts per status
(kept up to date by each transaction that changes a target's status)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import BatchStatus, InstanceStatus
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_ops.db.types import utcnow

__all__ = [
    "add_to_counts",
    "batch_row",
    "cancel_requested",
    "hold_planned",
    "status_moves",
    "stored_counts",
]


def cancel_requested(by: str | None, at: datetime) -> dict[str, str]:
    """The execution event's fields that say who asked for a cancel, and when."""
    return {"cancel_requested_by": by or "", "cancel_requested_at": at.isoformat()}


async def batch_row(session: Any, execution_id: int, number: int) -> AwsSrExecutionBatch | None:
    found: AwsSrExecutionBatch | None = (
        await session.exec(
            select(AwsSrExecutionBatch).where(
                AwsSrExecutionBatch.execution_id == execution_id,
                AwsSrExecutionBatch.number == number,
            )
        )
    ).first()
    return found


async def stored_counts(session: Any, execution_id: int) -> dict[str, int]:
    """The execution's counts per status as stored (no target is read)."""
    counts = (
        await session.exec(select(AwsSrExecution.counts).where(AwsSrExecution.id == execution_id))
    ).one()
    return {str(status): int(n) for status, n in (counts or {}).items()}


async def add_to_counts(
    session: Any, execution_id: int, delta: Mapping[str, int]
) -> dict[str, int]:
    """Apply ``delta`` (instances per status gained, negative for lost) to the execution's
    stored counts in the caller's transaction, and return the new counts.

    Call it after the transaction's own writes to the targets whose statuses ``delta``
    describes: the execution's row is read ``FOR UPDATE`` (PostgreSQL: concurrent steps
    apply their deltas one after the other), and on SQLite the earlier write holds the
    database's one write lock, so the counts read are the latest. Costs one row, however
    many targets the execution has; equal to a count of the targets by status.
    """
    if not any(delta.values()):
        return await stored_counts(session, execution_id)
    current = (
        await session.exec(
            select(AwsSrExecution.counts).where(AwsSrExecution.id == execution_id).with_for_update()
        )
    ).one()
    merged: Counter[str] = Counter({str(k): int(v) for k, v in (current or {}).items()})
    for status, n in delta.items():
        merged[str(status)] += n
    counts = {status: n for status, n in merged.items() if n}
    await session.exec(
        update(AwsSrExecution).where(col(AwsSrExecution.id) == execution_id).values(counts=counts)
    )
    return counts


def status_moves(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """The counts' delta of some targets that had statuses ``before`` and have ``after``."""
    delta: Counter[str] = Counter()
    for status, n in before.items():
        delta[str(status)] -= n
    for status, n in after.items():
        delta[str(status)] += n
    return {status: n for status, n in delta.items() if n}


async def hold_planned(
    session: Any, execution_id: int, reason: str, numbers: Sequence[int] | None = None
) -> dict[str, int]:
    """Mark planned batches ``not_sent`` (those numbered ``numbers``; every one when
    ``None``) and their pending instances ``NotSent`` with ``reason``; return the
    execution's counts, brought up to date in the same transaction."""
    batches = update(AwsSrExecutionBatch).where(
        col(AwsSrExecutionBatch.execution_id) == execution_id,
        col(AwsSrExecutionBatch.status) == BatchStatus.PLANNED,
    )
    targets = update(AwsSrExecutionTarget).where(
        col(AwsSrExecutionTarget.execution_id) == execution_id,
        col(AwsSrExecutionTarget.status) == InstanceStatus.PENDING,
    )
    if numbers is not None:
        batches = batches.where(col(AwsSrExecutionBatch.number).in_(numbers))
        targets = targets.where(col(AwsSrExecutionTarget.batch_number).in_(numbers))
    await session.exec(batches.values(status=BatchStatus.NOT_SENT, error=reason[:2000]))
    held = await session.exec(
        targets.values(
            status=InstanceStatus.NOT_SENT, skip_reason=reason[:300], updated_at=utcnow()
        )
    )
    moved = int(held.rowcount or 0)
    return await add_to_counts(
        session,
        execution_id,
        status_moves({InstanceStatus.PENDING: moved}, {InstanceStatus.NOT_SENT: moved}),
    )
