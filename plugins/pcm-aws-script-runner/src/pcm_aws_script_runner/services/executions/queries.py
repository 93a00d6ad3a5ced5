"""Reading executions: one by id, the history with its filters, an execution's instances
and batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, tuple_
from sqlmodel import col, select

from pcm_aws_script_runner.models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_aws_script_runner.services.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = [
    "ExecutionQuery",
    "TargetKey",
    "batch_counts",
    "batches_of",
    "get_execution",
    "list_executions",
    "parse_target_key",
    "target_key",
    "target_key_text",
    "targets_of",
]

#: Where a page of an execution's instances ends: ``(account id, region, instance id)``,
#: the order they are listed in (keyset pagination: the next page starts after it).
TargetKey = tuple[str, str, str]


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
    after: TargetKey | None = None,
) -> list[AwsSrExecutionTarget]:
    """An execution's instances, by account, region and instance id.

    :param after: keyset pagination: only the instances after this key (the
        :func:`target_key` of the last row of the previous page). Prefer it to ``offset``,
        which the database has to count through.
    """
    statement = select(AwsSrExecutionTarget).where(
        AwsSrExecutionTarget.execution_id == execution_id
    )
    if status:
        statement = statement.where(AwsSrExecutionTarget.status == status)
    if after is not None:
        statement = statement.where(
            tuple_(
                col(AwsSrExecutionTarget.account_id),
                col(AwsSrExecutionTarget.region),
                col(AwsSrExecutionTarget.instance_id),
            )
            > tuple_(*after)
        )
    statement = statement.order_by(
        col(AwsSrExecutionTarget.account_id),
        col(AwsSrExecutionTarget.region),
        col(AwsSrExecutionTarget.instance_id),
    ).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.exec(statement)).all())


def target_key(target: AwsSrExecutionTarget) -> TargetKey:
    """The key of ``target`` in the order :func:`targets_of` lists them."""
    return (target.account_id, target.region, target.instance_id)


def target_key_text(target: AwsSrExecutionTarget) -> str:
    """:func:`target_key` as the text that :func:`parse_target_key` reads back."""
    return ":".join(target_key(target))


def parse_target_key(text: str | None, field: str = "after") -> TargetKey | None:
    """``account_id:region:instance_id`` (a page's ``next_after``) as a :data:`TargetKey`.

    :raises InvalidInput: naming ``field``, when ``text`` is not of that shape.
    """
    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise InvalidInput(
            [(field, "must be the next_after of a previous page (account:region:instance)")]
        )
    return (parts[0], parts[1], parts[2])


async def batches_of(
    session: AsyncSession,
    execution_id: int,
    *,
    after: int | None = None,
    limit: int | None = None,
) -> list[AwsSrExecutionBatch]:
    """An execution's ``SendCommand`` batches, in number order.

    :param after: keyset pagination: only the batches numbered higher.
    """
    statement = select(AwsSrExecutionBatch).where(AwsSrExecutionBatch.execution_id == execution_id)
    if after is not None:
        statement = statement.where(col(AwsSrExecutionBatch.number) > after)
    statement = statement.order_by(col(AwsSrExecutionBatch.number))
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.exec(statement)).all())


async def batch_counts(session: AsyncSession, execution_id: int) -> dict[str, int]:
    """How many of an execution's batches are in each status."""
    rows = (
        await session.exec(
            select(AwsSrExecutionBatch.status, func.count())
            .where(AwsSrExecutionBatch.execution_id == execution_id)
            .group_by(AwsSrExecutionBatch.status)
        )
    ).all()
    return {str(status): int(n) for status, n in rows}
