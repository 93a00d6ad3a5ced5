"""The rows the steps read and write: one batch, and the execution's counts per status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from pcm_aws_script_runner.domain import BatchStatus, InstanceStatus
from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_ops.db.types import utcnow

__all__ = ["batch_row", "cancel_requested", "hold_planned", "update_counts"]


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


async def update_counts(session: Any, execution_id: int) -> dict[str, int]:
    rows = (
        await session.exec(
            select(AwsSrExecutionTarget.status, func.count())
            .where(AwsSrExecutionTarget.execution_id == execution_id)
            .group_by(AwsSrExecutionTarget.status)
        )
    ).all()
    counts = {status: int(n) for status, n in rows}
    await session.exec(
        update(AwsSrExecution).where(col(AwsSrExecution.id) == execution_id).values(counts=counts)
    )
    return counts


async def hold_planned(
    session: Any, execution_id: int, reason: str, numbers: Sequence[int] | None = None
) -> None:
    """Mark planned batches ``not_sent`` (those numbered ``numbers``; every one when
    ``None``) and their pending instances ``NotSent`` with ``reason``."""
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
    await session.exec(
        targets.values(
            status=InstanceStatus.NOT_SENT, skip_reason=reason[:300], updated_at=utcnow()
        )
    )
