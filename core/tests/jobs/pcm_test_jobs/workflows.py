"""Workflows whose steps write to files in a directory, so tests can count side effects.

``<name>.log`` gets one line each time a step named ``name`` completes its work, and
``<name>.started`` one line each time it starts; a step that waits for ``<name>.release``
lets a test kill the process in the middle of it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dbos import DBOS

from pcm_ops.jobs import publish_job_event


def append(path: Path, line: str) -> None:
    with path.open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def wait_for_file(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.02)


@DBOS.step(name="jobs-test.record")
def record(directory: str, name: str) -> str:
    append(Path(directory) / f"{name}.log", DBOS.executor_id)
    publish_job_event("recorded", {"name": name})
    return name


@DBOS.step(name="jobs-test.hold")
def hold(directory: str, name: str) -> str:
    """Start, then wait for ``<name>.release`` before doing the work."""
    folder = Path(directory)
    append(folder / f"{name}.started", f"{DBOS.executor_id} {os.getpid()}")
    publish_job_event("holding", {"name": name})
    wait_for_file(folder / f"{name}.release")
    append(folder / f"{name}.log", DBOS.executor_id)
    return name


@DBOS.workflow(name="jobs-test.two_steps")
def two_steps(directory: str) -> str:
    """``first`` runs, then ``second`` waits for its release file."""
    record(directory, "first")
    publish_job_event("first.done")
    hold(directory, "second")
    publish_job_event("second.done")
    return "done"


@DBOS.step(name="jobs-test.tick")
def tick(directory: str, number: int, pause: float) -> int:
    append(Path(directory) / "ticks.log", str(number))
    time.sleep(pause)
    return number


@DBOS.workflow(name="jobs-test.ticker")
def ticker(directory: str, count: int, pause: float) -> int:
    for number in range(count):
        tick(directory, number, pause)
    return count


@DBOS.step(name="jobs-test.emit")
def emit(first: int, last: int) -> None:
    for number in range(first, last + 1):
        publish_job_event("tick", {"n": number})


@DBOS.step(name="jobs-test.gate")
def gate(directory: str, name: str) -> None:
    folder = Path(directory)
    append(folder / f"{name}.reached", "1")
    wait_for_file(folder / f"{name}.release")


@DBOS.workflow(name="jobs-test.chatty")
def chatty(directory: str, per_phase: int) -> int:
    """Publish ``per_phase`` events, wait for ``a.release``, again, ``b.release``, again."""
    emit(1, per_phase)
    gate(directory, "a")
    emit(per_phase + 1, 2 * per_phase)
    gate(directory, "b")
    emit(2 * per_phase + 1, 3 * per_phase)
    return 3 * per_phase


@DBOS.step(name="jobs-test.occupy")
def occupy(directory: str, label: str, seconds: float) -> None:
    started = time.time()
    time.sleep(seconds)
    append(Path(directory) / "intervals.log", f"{label} {started} {time.time()}")


@DBOS.workflow(name="jobs-test.busy")
def busy(directory: str, label: str, seconds: float) -> None:
    occupy(directory, label, seconds)


@DBOS.workflow(name="jobs-test.noop")
def noop() -> None:
    """Nothing at all: for measuring the engine's own overhead."""


@DBOS.workflow(name="jobs-test.parent")
def parent(queue: str) -> str:
    """Enqueues ``jobs-test.noop`` on ``queue`` as its child; returns the child's id."""
    from pcm_ops.jobs import enqueue

    return enqueue("jobs-test.noop", queue=queue)
