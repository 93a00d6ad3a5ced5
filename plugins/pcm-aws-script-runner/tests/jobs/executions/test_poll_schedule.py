"""How often a running batch is listed: a probe per round of batches sent together, the
rest listed once results show up (SSM calls near the minimum when scripts take time)."""

from __future__ import annotations

from pcm_aws_script_runner.jobs.executions.workflow import PollSchedule


def _run(batches: int, script_seconds: float, *, poll: float = 0.1, max_poll: float = 1.0):
    """Batches sent together whose instances all end ``script_seconds`` after sending:
    how many lists it takes until every batch is seen finished, and when that is."""
    schedule = PollSchedule(poll, max_poll)
    running = list(range(1, batches + 1))
    lists = 0
    while running:
        schedule.track(running)
        due = schedule.due(schedule.wait(), running)
        for n in due:
            lists += 1
            done = schedule.clock >= script_seconds
            schedule.polled(n, progressed=done)
            if done:
                running.remove(n)
    return lists, schedule.clock


def test_batches_whose_script_takes_a_second_are_listed_near_once_each():
    lists, seen = _run(40, 1.0)

    # 40 SendCommand + lists <= 1.10 x the minimum of 80 calls.
    assert 40 + lists <= 88, lists
    assert seen <= 1.0 + 1.0  # seen finished within max_poll of the end


def test_batches_that_end_at_once_are_listed_once_each():
    lists, seen = _run(40, 0.0)

    assert lists == 40
    assert seen <= 0.1 + 1e-9


def test_a_long_script_costs_lists_at_most_every_max_poll():
    lists, _ = _run(10, 30.0, poll=2.0, max_poll=5.0)

    # The probe: 2, 4, then every 5 s; the others every 5 s: about 10 x 30 / 5 lists,
    # not 10 x 30 / 2.
    assert lists <= 10 * (30 / 5 + 1) + 3, lists


def test_a_batch_with_results_coming_in_is_listed_again_after_the_poll_interval():
    schedule = PollSchedule(0.1, 1.0)
    schedule.track([1, 2])
    assert schedule.due(schedule.wait(), [1, 2]) == [1]  # the probe first
    schedule.polled(1, progressed=True)  # results: batch 2, sent with it, is due now

    assert schedule.wait() == 0.0
    assert schedule.due(0.0, [1, 2]) == [2]
    schedule.polled(2, progressed=True)
    assert schedule.wait() == 0.1


def test_results_of_one_group_do_not_hurry_a_group_sent_after_it():
    schedule = PollSchedule(0.1, 1.0)
    schedule.sent([1, 2])
    schedule.sent([3, 4])  # sent after the first group finished sending
    assert schedule.due(schedule.wait(), [1, 2, 3, 4]) == [1, 3]  # a probe per group
    schedule.polled(1, progressed=True)
    schedule.polled(3, progressed=False)

    assert schedule.due(schedule.wait(), [1, 2, 3, 4]) == [2]  # 4 waits for its probe


def test_the_groups_of_a_round_cost_one_probe_when_scripts_take_a_second():
    schedule = PollSchedule(0.1, 1.0)
    schedule.sent([1, 2, 3, 4, 5, 6, 7, 8])  # one round: four groups of two
    running, lists = list(range(1, 9)), 0
    while running:
        due = schedule.due(schedule.wait(), running)
        for n in due:
            lists += 1
            done = schedule.clock >= 1.0
            schedule.polled(n, progressed=done)
            if done:
                running.remove(n)

    # The probe at 0.1, 0.3, 0.7 and 1.5 s, then the 7 others once: 4 groups each with
    # a probe of their own took 3 early lists more per group.
    assert lists == 8 + 3, lists


def test_a_probe_sent_long_before_its_round_ended_is_listed_at_once():
    schedule = PollSchedule(0.1, 1.0)
    # The round took 0.25 s to send after its first batch went out: that batch is due.
    schedule.sent([1, 2, 3], probe_age=0.25)

    assert schedule.wait() == 0.0
    assert schedule.due(0.0, [1, 2, 3]) == [1]


def test_a_probe_younger_than_the_poll_interval_waits_the_rest_of_it():
    schedule = PollSchedule(0.1, 1.0)
    schedule.sent([1, 2], probe_age=0.04)

    assert abs(schedule.wait() - 0.06) < 1e-9


def test_an_early_first_list_does_not_shorten_the_probes_backoff():
    schedule = PollSchedule(0.1, 1.0)
    schedule.sent([1, 2], probe_age=5.0)
    schedule.due(schedule.wait(), [1, 2])
    schedule.polled(1, progressed=False)

    # Listed again after twice the poll interval, as a probe listed on time would be: not
    # at once, over and over, because its first wait was 0.
    assert abs(schedule.wait() - 0.2) < 1e-9


def test_the_probes_age_comes_from_the_send_steps_recorded_outputs():
    from pcm_aws_script_runner.jobs.executions.workflow import _probe_age

    outcomes = [
        {"status": "sent", "sent_at": 100.05, "ended_at": 100.08},
        {"status": "sent", "sent_at": 100.07, "ended_at": 100.08},
        {"status": "sent", "sent_at": 100.20, "ended_at": 100.31},
    ]
    assert abs(_probe_age([1, 2, 3], [1, 2, 3], outcomes) - 0.26) < 1e-9
    # Outputs recorded before these fields existed (a workflow resumed across an upgrade),
    # and a batch settled by an earlier run of its step: the probe waits a whole interval.
    assert _probe_age([1], [1], [{"status": "sent", "command_id": "c", "errors": 0}]) == 0.0
    assert _probe_age([1, 2], [1, 2], [{"status": "sent", "ended_at": 5.0}, outcomes[2]]) == 0.0
    assert _probe_age([], [1], [None]) == 0.0
