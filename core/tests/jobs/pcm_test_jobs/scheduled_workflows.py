"""The scheduled test workflow: each run appends its scheduled time to a file."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from dbos import DBOS

#: Where runs leave their trace (set by the tests).
TRACE = "PCM_TEST_JOBS_SCHEDULE_TRACE"


@DBOS.step(name="jobs-sched.note")
def note(when: str) -> None:
    trace = os.environ.get(TRACE)
    if trace:
        with Path(trace).open("a") as handle:
            handle.write(when + "\n")


@DBOS.workflow(name="jobs-sched.tick")
def tick(scheduled_at: datetime, context: Any) -> None:
    note(scheduled_at.isoformat())
