"""Telling other plugins that an execution started or finished (``aws_sr_execution_events``),
and asking the pre-execution checks again when a queued run starts.

Both are called by the execution's durable job (:mod:`pcm_aws_script_runner.jobs.executions`)
outside the run's own transactions. An implementation that raises or is slow is logged
against its plugin and never affects the run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from pcm_aws_script_runner.domain import ERROR_STATUSES, InstanceStatus
from pcm_aws_script_runner.hooktypes import ExecutionEvent, ExecutionRequest, ResolvedTarget
from pcm_aws_script_runner.ids import PAGE_PREFIX
from pcm_aws_script_runner.models import AwsSrExecution, AwsSrExecutionTarget

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_ops.context import ContextFactory
    from pcm_ops.registry import HookImplementation, PluginRegistry
    from pcm_ops.settings import Settings

__all__ = ["HOOK", "announce", "execution_event", "stored_request"]

logger = logging.getLogger("pcm_aws_script_runner.events")

HOOK = "aws_sr_execution_events"

#: The most failed instance ids an event lists (``failed_total`` counts them all).
FAILED_LISTED = 100


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def execution_event(
    session: AsyncSession, execution_id: int, kind: str, settings: Settings
) -> ExecutionEvent:
    """The event ``kind`` (``started`` or ``finished``) of an execution, from the database."""
    execution = await session.get(AwsSrExecution, execution_id)
    if execution is None:
        raise LookupError(f"execution {execution_id} is not in the database")
    failed_query = (
        select(AwsSrExecutionTarget.instance_id)
        .where(
            AwsSrExecutionTarget.execution_id == execution_id,
            col(AwsSrExecutionTarget.status).in_([str(s) for s in ERROR_STATUSES]),
        )
        .order_by(col(AwsSrExecutionTarget.instance_id))
    )
    failed = list((await session.exec(failed_query.limit(FAILED_LISTED))).all())
    counts = {str(status): int(n) for status, n in (execution.counts or {}).items()}
    failed_total = sum(n for status, n in counts.items() if status in ERROR_STATUSES)
    spec = execution.target_spec or {}
    path = f"{PAGE_PREFIX}/executions/{execution_id}"
    return ExecutionEvent(
        kind=kind,
        key=f"execution-{execution_id}-{kind}",
        execution_id=execution_id,
        script_id=execution.script_id,
        script_name=execution.script_name,
        script_version=execution.script_version,
        script_sha256=execution.script_sha256,
        language=execution.language,
        requested_by=execution.requested_by,
        status=str(execution.status),
        status_reason=execution.status_reason,
        target_count=execution.target_count,
        counts=counts,
        failed_instances=tuple(failed),
        failed_total=max(failed_total, len(failed)),
        change_reference=execution.change_reference,
        target_source=spec.get("source") if spec.get("kind") == "source" else None,
        target_reference=spec.get("reference") if spec.get("kind") == "source" else None,
        comment=execution.comment,
        path=path,
        url=settings.link(path),
        started_at=_iso(execution.started_at),
        finished_at=_iso(execution.finished_at),
    )


async def stored_request(session: AsyncSession, execution_id: int) -> ExecutionRequest:
    """The :class:`~pcm_aws_script_runner.hooktypes.ExecutionRequest` of a recorded
    execution, as its pre-execution checks saw it when it was asked for: the instances that
    will be sent the command (not those skipped), the masked parameter values."""
    execution = await session.get(AwsSrExecution, execution_id)
    if execution is None:
        raise LookupError(f"execution {execution_id} is not in the database")
    rows = (
        await session.exec(
            select(AwsSrExecutionTarget)
            .where(
                AwsSrExecutionTarget.execution_id == execution_id,
                AwsSrExecutionTarget.status != InstanceStatus.SKIPPED,
            )
            .order_by(col(AwsSrExecutionTarget.id))
        )
    ).all()
    spec = execution.target_spec or {}
    from_source = spec.get("kind") == "source"
    return ExecutionRequest(
        script_id=execution.script_id,
        script_name=execution.script_name,
        script_version=execution.script_version,
        script_sha256=execution.script_sha256,
        language=execution.language,
        parameters=dict(execution.parameters or {}),
        targets=tuple(
            ResolvedTarget(row.instance_id, row.account_id, row.region, row.name) for row in rows
        ),
        requested_by=execution.requested_by,
        target_source=spec.get("source") if from_source else None,
        target_reference=spec.get("reference") if from_source else None,
        change_reference=execution.change_reference,
        comment=execution.comment,
    )


async def _call_one(
    implementation: HookImplementation,
    event: ExecutionEvent,
    contexts: ContextFactory | None,
    time_limit: float,
) -> bool:
    plugin = implementation.plugin.id
    try:
        async with asyncio.timeout(time_limit):
            returned = implementation.call(
                event=event, context=contexts(plugin) if contexts else None
            )
            if inspect.isawaitable(returned):
                returned = await returned
    except TimeoutError:
        logger.error(
            "plugin %r: hook %s took longer than %g s for %s; the run goes on",
            plugin,
            HOOK,
            time_limit,
            event.key,
        )
        return False
    except Exception:
        logger.exception(
            "plugin %r: hook %s raised for %s; the run goes on", plugin, HOOK, event.key
        )
        return False
    if returned is not None:
        logger.warning(
            "plugin %r: hook %s returned %s (ignored; it returns None)",
            plugin,
            HOOK,
            type(returned).__name__,
        )
    return True


async def announce(
    registry: PluginRegistry,
    event: ExecutionEvent,
    *,
    contexts: ContextFactory | None = None,
    time_limit: float = 10.0,
) -> list[str]:
    """Call every ``aws_sr_execution_events`` implementation with ``event``, concurrently,
    each for at most ``time_limit`` seconds. Never raises for an implementation's fault.

    :return: the ids of the plugins whose implementation returned without error.
    """
    implementations = registry.implementations(HOOK)
    if not implementations:
        return []
    outcomes = await asyncio.gather(
        *(_call_one(each, event, contexts, time_limit) for each in implementations)
    )
    return [each.plugin.id for each, ok in zip(implementations, outcomes, strict=True) if ok]
