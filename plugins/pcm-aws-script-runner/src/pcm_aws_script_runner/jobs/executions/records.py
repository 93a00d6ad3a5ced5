"""The rows the steps read and write: one batch, and the execution's counts per status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)

__all__ = ["batch_row", "update_counts"]


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
