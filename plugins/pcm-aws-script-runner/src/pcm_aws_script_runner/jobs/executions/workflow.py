"""The workflow of one execution, ``aws-script-runner.execute`` (see the package's
description for its loop)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dbos import DBOS
from dbos import error as dbos_errors

from pcm_aws_script_runner.domain import (
    RUNNING_BATCHES,
    UNSENT_BATCHES,
    BatchStatus,
    ExecutionStatus,
)
from pcm_aws_script_runner.ids import EXECUTION_WORKFLOW
from pcm_aws_script_runner.jobs.executions.hooks import announce_event, recheck_at_start
from pcm_aws_script_runner.jobs.executions.lifecycle import (
    begin,
    cancel_batch,
    finish,
    hold_batches,
)
from pcm_aws_script_runner.jobs.executions.polling import poll
from pcm_aws_script_runner.jobs.executions.sending import SEND_GROUP, send_batches

__all__ = ["execute"]

logger = logging.getLogger("pcm_aws_script_runner.executions")

#: Polls after a cancel request before the workflow stops waiting for SSM to confirm.
CANCEL_POLLS = 20


def _interleaved(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batches in sending order: one of each account-region in turn, so that a low max
    concurrency spreads over the fleet instead of finishing one region first."""
    per_region: dict[str, list[dict[str, Any]]] = {}
    for batch in batches:
        per_region.setdefault(batch["account_region"], []).append(batch)
    order: list[dict[str, Any]] = []
    queues = [per_region[key] for key in sorted(per_region)]
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    return order


@DBOS.workflow(name=EXECUTION_WORKFLOW)
async def execute(execution_id: int) -> dict[str, Any]:
    """Run execution ``execution_id`` to the end (see the module's description)."""
    refused = await recheck_at_start(execution_id)
    if refused:
        return {"status": ExecutionStatus.FAILED.value, "reason": refused}
    plan = await begin(execution_id)
    if plan["finished"]:
        return {"status": "already finished"}
    await announce_event(execution_id, "started")
    batches = {batch["number"]: batch for batch in plan["batches"]}
    order = [batch["number"] for batch in _interleaved(plan["batches"])]
    ended: dict[int, int] = {}  # sent batch → instances that have ended
    errors: dict[int, int] = {}
    state: dict[int, str] = {number: batch["status"] for number, batch in batches.items()}
    # A batch found "sending" was interrupted mid-call: send_batches settles it first.
    for number, status in state.items():
        if status in RUNNING_BATCHES:
            ended[number] = 0
    cancel = plan["cancel"]
    cancel_polls = 0
    reason = ""
    schedule = PollSchedule(plan["poll"], plan["max_poll"])
    while True:
        planned = [n for n in order if state[n] in UNSENT_BATCHES]
        running = [n for n in order if state[n] in RUNNING_BATCHES]
        if cancel:
            await _cancel(execution_id, planned, running, state)
        elif planned:
            error_count = sum(errors.values())
            if error_count > plan["error_budget"]:
                reason = (
                    f"max errors ({plan['max_errors']}) exceeded: {error_count} instances failed"
                )
                await _hold(execution_id, planned, reason, state)
            else:
                to_send = _to_send(planned, running, batches, ended, plan["concurrency"])
                if to_send:
                    unsettled = await _send(
                        execution_id, to_send, batches, state, ended, errors, schedule
                    )
                    if len(unsettled) == len(to_send) and not running:
                        # Nothing could be sent (e.g. the database kept timing out): wait,
                        # and learn of a cancel request meanwhile, before trying again.
                        await DBOS.sleep_async(plan["max_poll"])
                        cancel = (await poll(execution_id, []))["cancel"]
                    continue  # maybe more room (a batch failed to send); else poll
        running = [n for n in order if state[n] in RUNNING_BATCHES]
        if not running:
            if not [n for n in order if state[n] in UNSENT_BATCHES]:
                break
            continue
        schedule.track(running)
        wait = plan["poll"] if cancel else schedule.wait()
        if wait > 0:
            await DBOS.sleep_async(wait)
        due = running if cancel else schedule.due(wait, running)
        summary = await poll(execution_id, due)
        for key, info in summary["batches"].items():
            n = int(key)
            schedule.polled(n, progressed=info["ended"] > ended.get(n, 0))
            ended[n], errors[n] = info["ended"], info["errors"]
            if info["finished"]:
                state[n] = BatchStatus.FINISHED
        if summary["cancel"] and not cancel:
            cancel = True
            continue
        if cancel:
            cancel_polls += 1
            if cancel_polls >= CANCEL_POLLS:
                reason = (
                    "cancelled; SSM had not confirmed every cancellation when the run "
                    "stopped waiting"
                )
                break
    result = await finish(execution_id, reason)
    await announce_event(execution_id, "finished")
    return result


class PollSchedule:
    """When each running batch is listed again (``ListCommandInvocations``).

    A batch none of whose instances has ended yet is *silent*. Of the silent batches sent
    together (one send round, however many steps it took), only the first is listed soon
    (after ``poll`` seconds, then twice as long each time it is still silent, up to
    ``max_poll``): a probe of how long the script takes. The others are listed at once
    when a batch sent with or before them shows results; until then only every
    ``SILENT_POLLS`` x ``max_poll`` (in case the probe's instances are stuck while theirs
    are done). A batch whose results are coming in is listed again after ``poll``; one that
    has stopped changing waits twice as long each time, up to ``max_poll``. So a script
    that runs a second costs one probe's few lists, then one list per batch, instead of a
    list of every running batch every ``poll`` seconds.

    Time here is the sum of the waits (a logical clock): the workflow must not read the
    real one, so that a replay after a crash decides the same way. The one reading of the
    real clock, how long the round took to send after its probe went out, comes from the
    send steps' recorded outputs, which a replay gets back unchanged.
    """

    #: How many ``max_poll`` intervals a silent batch that is not its round's probe waits.
    SILENT_POLLS = 4

    def __init__(self, poll: float, max_poll: float) -> None:
        self.poll, self.max_poll = poll, max(poll, max_poll)
        self.clock = 0.0
        self.cohorts = 0
        self.next_at: dict[int, float] = {}
        self.backoff: dict[int, float] = {}
        self.cohort: dict[int, int] = {}
        self.silent: set[int] = set()
        self.probes: set[int] = set()

    def track(self, running: list[int]) -> None:
        """Schedule the running batches not seen before (running when the workflow resumed:
        one probe for them all); forget those that ended."""
        still = set(running)
        for gone in [n for n in self.next_at if n not in still]:
            del self.next_at[gone]
        self.silent &= still
        self.sent([n for n in running if n not in self.next_at])

    def sent(self, numbers: list[int], *, probe_age: float = 0.0) -> None:
        """Batches sent together (one round: its first is the probe). ``probe_age``: how
        long before the round ended its first batch was sent (a round of many batches takes
        a while to send: the probe is due ``poll`` after it was sent, not after the last)."""
        new = [n for n in numbers if n not in self.next_at]
        if not new:
            return
        self.cohorts += 1
        for index, n in enumerate(new):
            if index == 0:
                self.probes.add(n)
                first = self.poll
                due_in = max(first - probe_age, 0.0)
            else:
                first = due_in = self.max_poll * self.SILENT_POLLS
            self.next_at[n], self.backoff[n] = self.clock + due_in, first
            self.cohort[n] = self.cohorts
            self.silent.add(n)

    def wait(self) -> float:
        """Seconds until the next batch is due (0: one is due now)."""
        return max(min(self.next_at.values()) - self.clock, 0.0) if self.next_at else 0.0

    def due(self, waited: float, running: list[int]) -> list[int]:
        """After waiting ``waited`` seconds: the running batches to list now."""
        self.clock += waited
        return [n for n in running if self.next_at[n] <= self.clock + 1e-9]

    def polled(self, number: int, *, progressed: bool) -> None:
        """Batch ``number`` was listed; ``progressed``: more of its instances ended."""
        if progressed:
            self.backoff[number] = self.poll
            if number in self.silent:
                # Results are there: batches sent with it or before are likely done too.
                for other in self.silent:
                    if self.cohort[other] <= self.cohort[number]:
                        self.next_at[other] = min(self.next_at[other], self.clock)
                        self.backoff[other] = self.poll
                self.silent = {n for n in self.silent if self.cohort[n] > self.cohort[number]}
        elif number in self.silent and number not in self.probes:
            self.backoff[number] = self.max_poll * self.SILENT_POLLS
        else:
            self.backoff[number] = min(self.backoff[number] * 2, self.max_poll)
        self.next_at[number] = self.clock + self.backoff[number]


# Helpers of the workflow: they call steps in a fixed order and decide only from what
# earlier steps returned, so that a replay after a crash takes the same path.


async def _hold(execution_id: int, planned: list[int], reason: str, state: dict[int, str]) -> None:
    await hold_batches(execution_id, planned, reason)
    for n in planned:
        state[n] = BatchStatus.NOT_SENT


async def _cancel(
    execution_id: int, planned: list[int], running: list[int], state: dict[int, str]
) -> None:
    """Hold the batches not yet sent; CancelCommand every one running."""
    if planned:
        await _hold(execution_id, planned, "cancelled before it was sent", state)
    to_cancel = [n for n in running if state[n] == BatchStatus.SENT]
    if to_cancel:
        cancelled = await asyncio.gather(*(cancel_batch(execution_id, n) for n in to_cancel))
        for n, answer in zip(to_cancel, cancelled, strict=True):
            if answer == BatchStatus.CANCELLED:
                state[n] = BatchStatus.CANCELLED


def _to_send(
    planned: list[int],
    running: list[int],
    batches: dict[int, dict[str, Any]],
    ended: dict[int, int],
    concurrency: int,
) -> list[int]:
    """The planned batches that fit in the room max concurrency leaves, in order; at least
    one when nothing runs (never wait on nothing)."""
    in_flight = sum(batches[n]["size"] - ended.get(n, 0) for n in running)
    room = concurrency - in_flight
    to_send = []
    for n in planned:
        if batches[n]["size"] > room:
            break
        to_send.append(n)
        room -= batches[n]["size"]
    if not to_send and not running:
        to_send = planned[:1]
    return to_send


async def _send(
    execution_id: int,
    to_send: list[int],
    batches: dict[int, dict[str, Any]],
    state: dict[int, str],
    ended: dict[int, int],
    errors: dict[int, int],
    schedule: PollSchedule,
) -> list[int]:
    """Send ``to_send``; return the batches whose step ran out of retries without an
    outcome (nothing recorded against them: they are sent again later, looking first)."""
    # Groups of SEND_GROUP batches in sending order (so one account-region after the other),
    # each a step; every step is started at once, in a fixed order (so a replay matches each
    # recorded outcome to its group), and send_batches lets a few work at a time.
    groups = [to_send[start : start + SEND_GROUP] for start in range(0, len(to_send), SEND_GROUP)]
    answers = await asyncio.gather(
        *(send_batches(execution_id, group) for group in groups), return_exceptions=True
    )
    outcomes: list[dict[str, Any] | None] = []
    # One probe for the whole round (its first batch), not one per group: the groups go out
    # together, a few at a time, and a script that takes a second cost each group's probe a
    # few early lists (issue 15: SSM calls 1.10x the minimum at 2,000 instances).
    started: list[int] = []  # the batches now running, in sending order
    for group, answer in zip(groups, answers, strict=True):
        settled: list[dict[str, Any] | None]
        if isinstance(answer, dbos_errors.DBOSMaxStepRetriesExceeded):
            logger.warning(
                "execution %s batches %s: not all sent yet, will try again: %s",
                execution_id,
                group,
                "; ".join(f"{type(e).__name__}: {e}" for e in answer.errors)[:1000],
            )
            settled = [None] * len(group)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            settled = list(answer)
        outcomes.extend(settled)
        started += [
            n
            for n, a in zip(group, settled, strict=True)
            if a is not None and a["status"] in RUNNING_BATCHES
        ]
    schedule.sent(started, probe_age=_probe_age(started, to_send, outcomes))
    unsettled = []
    for n, outcome in zip(to_send, outcomes, strict=True):
        if outcome is None:
            unsettled.append(n)
            continue
        state[n] = outcome["status"]
        if outcome["status"] in RUNNING_BATCHES:
            ended[n] = 0
        elif outcome["status"] == BatchStatus.FAILED:
            errors[n] = batches[n]["size"]
    return unsettled


def _probe_age(
    started: list[int], to_send: list[int], outcomes: list[dict[str, Any] | None]
) -> float:
    """Seconds from the round's first SendCommand answer (its probe's) to the end of its
    last send step, from the steps' outputs (``sent_at``, ``ended_at``: absent from
    outputs recorded before they were added, and for a batch settled by an earlier run of
    its step: then 0, the probe waits a whole poll interval as before)."""
    if not started:
        return 0.0
    by_number = dict(zip(to_send, outcomes, strict=True))
    probe = by_number.get(started[0]) or {}
    sent_at = probe.get("sent_at")
    ends = [o["ended_at"] for o in outcomes if o is not None and o.get("ended_at") is not None]
    if sent_at is None or not ends:
        return 0.0
    return max(float(max(ends)) - float(sent_at), 0.0)
