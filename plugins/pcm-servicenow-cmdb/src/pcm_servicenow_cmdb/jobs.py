"""The plugin's durable job: one work note delivered to a change (``servicenow-cmdb.work_note``).

Each attempt is one step that reads the change's journal and appends the note only when
it is not there (:func:`pcm_servicenow_cmdb.services.worknotes.deliver`). Between failed
attempts the job sleeps durably, longer each time (up to ``work_note_retry_max_seconds``),
and gives up after ``work_note_give_up_hours``, logging the note it could not write. A
change that does not exist ends the job at once.
"""

from __future__ import annotations

import logging
from typing import Any

from dbos import DBOS

from pcm_servicenow_cmdb.ids import PLUGIN_ID, WORK_NOTE_WORKFLOW

__all__ = ["attempt_work_note", "work_note"]

logger = logging.getLogger("pcm_servicenow_cmdb.worknotes")


class ConnectionMissing(Exception):
    """The connection to write through is not configured (yet): an admin can add it."""


async def _attempt(change_number: str, connection: str | None, text: str, marker: str) -> str:
    from pcm_ops.db.engine import Database
    from pcm_ops.jobs.engine import current_engine
    from pcm_servicenow_cmdb.client import ServiceNowClient
    from pcm_servicenow_cmdb.services import connections, worknotes

    database = Database(current_engine().settings)
    try:
        async with database.session() as session:
            try:
                row = await connections.find_connection(session, connection)
            except Exception as exc:  # none configured, or several and none named
                raise ConnectionMissing(str(exc)) from exc
            settings = connections.settings_of(row)
    finally:
        await database.dispose()
    async with ServiceNowClient(settings) as client:
        return await worknotes.deliver(client, change_number, text, marker)


@DBOS.step(name=f"{PLUGIN_ID}.work_note_attempt")
async def attempt_work_note(
    change_number: str, connection: str | None, text: str, marker: str
) -> dict[str, Any]:
    """One attempt: ``{"outcome": "delivered" | "already in the journal" | "retry" |
    "give up", "error": ...}``. Never raises: the workflow decides from what it returns."""
    from pcm_ops.errors import NotFoundError
    from pcm_servicenow_cmdb.client import ServiceNowError

    try:
        outcome = await _attempt(change_number, connection, text, marker)
    except ConnectionMissing as exc:
        return {"outcome": "retry", "error": str(exc)}
    except NotFoundError as exc:  # no such change: waiting will not make one
        return {"outcome": "give up", "error": str(exc)}
    except ServiceNowError as exc:
        return {"outcome": "retry", "error": str(exc)}
    except Exception as exc:  # a network failure the client did not map, a bad config
        logger.exception("work note for change %s: attempt failed", change_number)
        return {"outcome": "retry", "error": f"{type(exc).__name__}: {exc}"}
    return {"outcome": outcome, "error": ""}


@DBOS.workflow(name=WORK_NOTE_WORKFLOW)
async def work_note(
    change_number: str,
    connection: str | None,
    text: str,
    marker: str,
    retry_seconds: float = 5.0,
    retry_max_seconds: float = 300.0,
    give_up_hours: float = 24.0,
) -> dict[str, Any]:
    """Deliver one work note to ``change_number`` exactly once (see the module)."""
    waited = 0.0
    delay = retry_seconds
    attempts = 0
    while True:
        attempts += 1
        result = await attempt_work_note(change_number, connection, text, marker)
        if result["outcome"] != "retry":
            break
        if waited + delay > give_up_hours * 3600:
            result = {"outcome": "give up", "error": result["error"]}
            break
        logger.warning(
            "work note for change %s (%s): attempt %d failed, next in %.0f s: %s",
            change_number,
            marker,
            attempts,
            delay,
            result["error"],
        )
        await DBOS.sleep_async(delay)
        waited += delay
        delay = min(delay * 2, retry_max_seconds)
    if result["outcome"] == "give up":
        logger.error(
            "work note for change %s (%s) not written after %d attempts: %s",
            change_number,
            marker,
            attempts,
            result["error"],
        )
    return {**result, "attempts": attempts, "change": change_number, "marker": marker}
