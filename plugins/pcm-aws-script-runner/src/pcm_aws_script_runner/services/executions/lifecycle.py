"""Acting on a running execution: asking its workflow to cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import col

from pcm_aws_script_runner.domain import FINISHED, ExecutionStatus
from pcm_aws_script_runner.ids import EXECUTION_CANCEL_ACTION
from pcm_aws_script_runner.models import AwsSrExecution
from pcm_aws_script_runner.services.errors import Conflict
from pcm_aws_script_runner.services.executions.queries import get_execution
from pcm_ops import audit
from pcm_ops.db.types import utcnow

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_ops.audit import Actor

__all__ = ["request_cancel"]


async def request_cancel(session: AsyncSession, execution_id: int, actor: Actor) -> AwsSrExecution:
    """Ask the execution's workflow to cancel: it stops sending, and sends CancelCommand for
    every batch still running (durably: a restart carries on with it).

    :raises NotFound: no such execution. :raises Conflict: it has already finished.
    """
    execution = await get_execution(session, execution_id)
    if execution.status in FINISHED:
        raise Conflict(f"execution {execution_id} has already {execution.status}")
    if execution.cancel_requested_at is None:
        await session.exec(
            update(AwsSrExecution)
            .where(col(AwsSrExecution.id) == execution_id)
            .values(
                cancel_requested_at=utcnow(),
                cancel_requested_by=actor.name,
                status=ExecutionStatus.CANCELLING.value,
            )
        )
        await audit.record_by(
            session,
            actor,
            EXECUTION_CANCEL_ACTION,
            object_type="execution",
            object_id=str(execution_id),
            details={"script": execution.script_name},
        )
        await session.flush()
        await session.refresh(execution)
    return execution
