"""Work notes back to the change: when a change-linked script-runner run starts and when it
ends, a work note says what ran, where, for whom, and how it ended.

The script runner announces both moments through ``aws_sr_execution_events``;
:func:`on_execution_event` turns each into a durable job (:mod:`pcm_servicenow_cmdb.jobs`)
keyed by the event, so that an event announced twice is noted once. The job delivers the
note with :func:`deliver`: it first reads the change's journal for the note's reference
line, and only appends (``PATCH work_notes``) when the note is not there yet. A worker
killed between the PATCH and the job's record of it therefore does not write the note
twice, and a ServiceNow outage or 429 delays the note (the job waits and tries again)
without losing it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pcm_servicenow_cmdb.ids import WORK_NOTE_WORKFLOW, WORK_NOTES_QUEUE
from pcm_servicenow_cmdb.query import Query

if TYPE_CHECKING:
    from pcm_ops.context import PluginContext
    from pcm_servicenow_cmdb.client import ServiceNowClient

__all__ = ["DELIVERED", "FOUND", "deliver", "marker_of", "note_text", "on_execution_event"]

logger = logging.getLogger("pcm_servicenow_cmdb.worknotes")

#: What :func:`deliver` returns.
DELIVERED = "delivered"
FOUND = "already in the journal"

#: How many failed instance ids a note names.
NAMED_FAILURES = 20


def marker_of(event: Any) -> str:
    """The reference line that identifies the note of ``event`` in a change's journal: the
    event's key and the installation's address, so two installations never match."""
    host = event.url.split("//", 1)[-1].split("/", 1)[0] if event.url else "pcm-ops"
    return f"pcm-ops:{event.key}@{host}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "none yet"


def note_text(event: Any) -> str:
    """The work note for ``event`` (an ``ExecutionEvent``), plain text."""
    script = (
        f"{event.script_name} v{event.script_version} "
        f"({event.language}, SHA-256 {event.script_sha256})"
    )
    if event.kind == "started":
        lines = [
            f"[PCM-Ops] Execution #{event.execution_id} started: {script}",
            f"Run by: {event.requested_by}",
            f"Targets: {event.target_count} instances",
        ]
    else:
        lines = [
            f"[PCM-Ops] Execution #{event.execution_id} {event.status}: {script}",
            f"Run by: {event.requested_by}",
            f"Instances by status: {_counts(dict(event.counts))}",
        ]
        if event.failed_total:
            named = ", ".join(event.failed_instances[:NAMED_FAILURES])
            more = event.failed_total - min(len(event.failed_instances), NAMED_FAILURES)
            lines.append(f"Failed instances: {named}" + (f" and {more} more" if more else ""))
        if event.status_reason:
            lines.append(f"Reason: {event.status_reason}")
    if event.comment:
        lines.append(f"Comment: {event.comment}")
    lines.append(f"Details: {event.url or event.path}")
    lines.append(f"Reference: {marker_of(event)}")
    return "\n".join(lines)


async def on_execution_event(event: Any, context: PluginContext) -> str | None:
    """Enqueue the work note of a change-linked run's event; the job's id, or ``None`` when
    the run names no change or work notes are off (``work_notes = false``)."""
    config = context.config
    if not event.change_reference or not config.work_notes:
        return None
    from pcm_ops.jobs import enqueue_async

    job_id = await enqueue_async(
        WORK_NOTE_WORKFLOW,
        event.change_reference.strip().upper(),
        config.gate.connection,
        note_text(event),
        marker_of(event),
        config.work_note_retry_seconds,
        config.work_note_retry_max_seconds,
        config.work_note_give_up_hours,
        queue=WORK_NOTES_QUEUE,
        key=f"work-note-{event.key}",
    )
    logger.info("work note for %s on change %s: job %s", event.key, event.change_reference, job_id)
    return job_id


async def _in_journal(client: ServiceNowClient, sys_id: str, marker: str) -> bool:
    found = await client.records(
        "sys_journal_field",
        query=Query().eq("element_id", sys_id).eq("element", "work_notes").like("value", marker),
        fields=("sys_id",),
        limit=1,
    )
    return bool(found)


async def deliver(client: ServiceNowClient, change_number: str, text: str, marker: str) -> str:
    """Append ``text`` to the change's work notes unless a note with ``marker`` is there.

    :return: :data:`DELIVERED` or :data:`FOUND`.
    :raises pcm_servicenow_cmdb.client.ServiceNowError: the journal could not be read or
        the PATCH failed (its ``outcome_unknown`` says whether it may have been applied:
        the next attempt reads the journal first either way).
    :raises pcm_ops.errors.NotFoundError: there is no such change.
    """
    from pcm_servicenow_cmdb.services.changes import get_change

    change = await get_change(client, change_number)
    if await _in_journal(client, change.sys_id, marker):
        return FOUND
    await client.patch("change_request", change.sys_id, {"work_notes": text})
    return DELIVERED
