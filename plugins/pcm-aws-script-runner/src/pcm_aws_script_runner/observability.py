"""The script runner's Prometheus metrics (served at ``/metrics``; see docs/operations.md).

Two kinds:

- counted where an execution finishes, in the process that runs it (a server, or a worker
  started with ``--metrics-port``): ``pcm_aws_sr_executions_finished_total`` and
  ``pcm_aws_sr_execution_duration_seconds``, by final status;
- read from the database whenever ``/metrics`` is scraped, so every API replica says the
  same: ``pcm_aws_sr_executions`` (not finished, by status) and
  ``pcm_aws_sr_batches_in_flight``.

Labels are statuses only: never an execution, batch or instance id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pcm_ops import metrics

__all__ = [
    "BATCHES_IN_FLIGHT",
    "EXECUTIONS",
    "EXECUTIONS_FINISHED",
    "EXECUTION_DURATION",
    "count_active",
    "record_finished",
]

EXECUTIONS_FINISHED = metrics.counter(
    "pcm_aws_sr_executions_finished_total",
    "Script executions finished in this process, by final status (succeeded, failed, cancelled)",
    ["status"],
)
EXECUTION_DURATION = metrics.histogram(
    "pcm_aws_sr_execution_duration_seconds",
    "Time from an execution's start to its end, by final status",
    ["status"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
)
EXECUTIONS = metrics.gauge(
    "pcm_aws_sr_executions",
    "Script executions not finished yet, by status (queued, running, cancelling)",
    ["status"],
)
BATCHES_IN_FLIGHT = metrics.gauge(
    "pcm_aws_sr_batches_in_flight",
    "SendCommand batches being sent or sent and not finished (all executions)",
)


def record_finished(status: str, started_at: datetime | None, finished_at: datetime) -> None:
    """Count an execution that just finished with ``status``."""
    EXECUTIONS_FINISHED.labels(status).inc()
    if started_at is not None:
        seconds = max(0.0, (finished_at - started_at).total_seconds())
        EXECUTION_DURATION.labels(status).observe(seconds)


async def count_active(app: Any) -> None:
    """Set the gauges from the database (an ``on_scrape`` callback)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from pcm_aws_script_runner.domain import BatchStatus, ExecutionStatus
    from pcm_aws_script_runner.models import AwsSrExecution, AwsSrExecutionBatch

    active = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.CANCELLING)
    async with app.state.database.session() as session:
        rows = (
            await session.exec(
                select(AwsSrExecution.status, func.count())
                .where(col(AwsSrExecution.status).in_(active))
                .group_by(AwsSrExecution.status)
            )
        ).all()
        in_flight = (
            await session.exec(
                select(func.count()).where(
                    col(AwsSrExecutionBatch.status).in_((BatchStatus.SENDING, BatchStatus.SENT))
                )
            )
        ).one()
    counts = {str(status): count for status, count in rows}
    for status in active:
        EXECUTIONS.labels(status.value).set(counts.get(status.value, 0))
    BATCHES_IN_FLIGHT.set(in_flight)
