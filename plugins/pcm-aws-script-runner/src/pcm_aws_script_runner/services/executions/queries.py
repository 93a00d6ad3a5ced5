"""Reading executions: one by id, the history with its filters, an execution's instances
and batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import col, select

from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_aws_script_runner.services.errors import NotFound

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["ExecutionQuery", "batches_of", "get_execution", "list_executions", "targets_of"]


async def get_execution(session: AsyncSession, execution_id: int) -> AwsSrExecution:
    """:raises NotFound: no such execution."""
    execution = await session.get(AwsSrExecution, execution_id)
    if execution is None:
        raise NotFound(f"there is no execution {execution_id}")
    return execution


@dataclass
class ExecutionQuery:
    """History filters; every one optional."""

    script_id: int | None = None
    requested_by: str | None = None
    status: str | None = None
    account_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def list_executions(
    session: AsyncSession, query: ExecutionQuery, *, limit: int = 50, offset: int = 0
) -> tuple[list[AwsSrExecution], int]:
    """Executions, newest first, and how many match."""
    statement = select(AwsSrExecution)
    if query.script_id is not None:
        statement = statement.where(AwsSrExecution.script_id == query.script_id)
    if query.requested_by:
        statement = statement.where(AwsSrExecution.requested_by == query.requested_by)
    if query.status:
        statement = statement.where(AwsSrExecution.status == query.status)
    if query.created_after is not None:
        statement = statement.where(col(AwsSrExecution.created_at) >= query.created_after)
    if query.created_before is not None:
        statement = statement.where(col(AwsSrExecution.created_at) < query.created_before)
    if query.account_id:
        reaching = select(AwsSrExecutionTarget.execution_id).where(
            AwsSrExecutionTarget.account_id == query.account_id
        )
        statement = statement.where(col(AwsSrExecution.id).in_(reaching))
    total = (await session.exec(select(func.count()).select_from(statement.subquery()))).one()
    rows = (
        await session.exec(
            statement.order_by(col(AwsSrExecution.id).desc()).limit(limit).offset(offset)
        )
    ).all()
    return list(rows), int(total)


async def targets_of(
    session: AsyncSession,
    execution_id: int,
    *,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AwsSrExecutionTarget]:
    """An execution's instances, by account, region and instance id."""
    statement = select(AwsSrExecutionTarget).where(
        AwsSrExecutionTarget.execution_id == execution_id
    )
    if status:
        statement = statement.where(AwsSrExecutionTarget.status == status)
    statement = statement.order_by(
        col(AwsSrExecutionTarget.account_id),
        col(AwsSrExecutionTarget.region),
        col(AwsSrExecutionTarget.instance_id),
    ).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.exec(statement)).all())


async def batches_of(session: AsyncSession, execution_id: int) -> list[AwsSrExecutionBatch]:
    """An execution's ``SendCommand`` batches, in number order."""
    statement = (
        select(AwsSrExecutionBatch)
        .where(AwsSrExecutionBatch.execution_id == execution_id)
        .order_by(col(AwsSrExecutionBatch.number))
    )
    return list((await session.exec(statement)).all())
