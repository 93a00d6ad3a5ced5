"""The steps that call other plugins: the pre-execution checks asked again when a queued run
starts, and ``aws_sr_execution_events`` when it started and when it finished."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dbos import DBOS
from sqlalchemy import update
from sqlmodel import col

from pcm_aws_script_runner.domain import ExecutionStatus
from pcm_aws_script_runner.ids import EXECUTION_START_ACTION, PLUGIN_ID, execution_stream
from pcm_aws_script_runner.jobs.executions.records import hold_planned
from pcm_aws_script_runner.jobs.runtime import Runtime, runtime
from pcm_aws_script_runner.models import (
    AwsSrExecution,
)
from pcm_aws_script_runner.services.executions.announcements import (
    announce,
    execution_event,
    stored_request,
)
from pcm_aws_script_runner.services.executions.checks import HOOK as CHECKS_HOOK
from pcm_aws_script_runner.services.executions.checks import run_pre_execution_checks
from pcm_ops import audit
from pcm_ops.context import ContextFactory, PluginContext
from pcm_ops.db.types import utcnow
from pcm_ops.jobs import publish_async

if TYPE_CHECKING:
    from pcm_ops.registry import PluginRegistry

__all__ = ["announce_event", "recheck_at_start"]

logger = logging.getLogger("pcm_aws_script_runner.executions")

#: How the audit log names the job when it refuses a run at its start.
JOB_ACTOR = f"job:{PLUGIN_ID}"


def _contexts(rt: Runtime) -> tuple[PluginRegistry, ContextFactory]:
    from pcm_ops.jobs.engine import current_engine

    registry = current_engine().registry
    return registry, PluginContext.factory(
        settings=rt.settings, registry=registry, database=rt.database
    )


@DBOS.step(name="aws-script-runner.recheck_at_start", retries_allowed=True, max_attempts=3)
async def recheck_at_start(execution_id: int) -> str:
    """Ask the pre-execution checks again before a queued run starts.

    :return: ``""`` when the run may start (or already started: a resumed job does not ask
        again); else the reason it was refused, after the refusal is recorded: every
        instance ``NotSent``, the execution ``failed``, an audit record.
    """
    rt = await runtime()
    registry, contexts = _contexts(rt)
    if not rt.config.recheck_at_start or not registry.implementations(CHECKS_HOOK):
        return ""  # nothing to ask: do not read the targets
    async with rt.database.session() as session:
        execution = await session.get(AwsSrExecution, execution_id)
        if execution is None:
            raise LookupError(f"execution {execution_id} is not in the database (yet)")
        if execution.status != ExecutionStatus.QUEUED or execution.cancel_requested_at:
            return ""
        request = await stored_request(session, execution_id)
    report = await run_pre_execution_checks(
        registry,
        request,
        None,
        time_limit=rt.config.pre_execution_check_timeout_seconds,
        contexts=contexts,
    )
    if report.passed:
        return ""
    reason = f"refused when it started: {report.reason()}"
    await _refuse(rt, execution_id, reason)
    return reason


async def _refuse(rt: Runtime, execution_id: int, reason: str) -> None:
    async with rt.database.session() as session:
        counts = await hold_planned(session, execution_id, reason)
        now = utcnow()
        await session.exec(
            update(AwsSrExecution)
            .where(col(AwsSrExecution.id) == execution_id)
            .values(
                status=ExecutionStatus.FAILED,
                status_reason=reason[:500],
                started_at=now,
                finished_at=now,
            )
        )
        await audit.record_by(
            session,
            audit.Actor.system(JOB_ACTOR),
            f"{EXECUTION_START_ACTION}.refused_at_start",
            object_type="execution",
            object_id=str(execution_id),
            outcome=audit.FAILURE,
            details={"blocked": reason},
        )
    logger.warning("execution %s %s", execution_id, reason)
    await publish_async(
        execution_stream(execution_id),
        "execution",
        {"status": ExecutionStatus.FAILED, "reason": reason, "counts": counts},
    )


@DBOS.step(name="aws-script-runner.announce", retries_allowed=True, max_attempts=3)
async def announce_event(execution_id: int, kind: str) -> list[str]:
    """Call every plugin's ``aws_sr_execution_events`` with the execution's ``kind`` event
    (``started``, ``finished``). An implementation's failure is logged, never raised.

    :return: the plugins whose implementation returned without error.
    """
    rt = await runtime()
    registry, contexts = _contexts(rt)
    if not registry.implementations("aws_sr_execution_events"):
        return []
    async with rt.database.session() as session:
        event = await execution_event(session, execution_id, kind, rt.settings)
    return await announce(
        registry,
        event,
        contexts=contexts,
        time_limit=rt.config.event_hook_timeout_seconds,
    )
