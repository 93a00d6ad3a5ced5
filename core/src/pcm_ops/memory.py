"""How a long-running PCM-Ops process (``pcm-ops serve``, ``pcm-ops worker``) sets up
Python's garbage collector once it has started.

Python's cyclic collector runs a *young* collection every 700 new container objects and,
when enough objects have survived into the oldest generation, a *full* one that walks
every object it tracks. A started PCM-Ops process holds hundreds of thousands of objects
that live as long as it does (modules, classes, models, the route table, the AWS
clients' service models), so a full collection took up to ~150 ms, and an execution's
rows and answers, alive for the length of a page, kept promoting objects and triggering
them: at 20,000 instances the collector took 0.39 s of the execution's 6.1 s of CPU
(0.10 s with :func:`tune_garbage_collector`), at 10,000 0.07-0.09 s (0.03-0.04 s).

:func:`tune_garbage_collector` moves the objects that start-up made out of the
collector's walks (:func:`gc.freeze`) and collects young objects every
:data:`YOUNG_THRESHOLD` allocations instead of 700, so that short-lived objects die
before a collection sees them instead of being promoted. Garbage is still collected;
the setting ``tune_gc`` (``PCM_TUNE_GC=false``) leaves the collector as Python sets it.
"""

from __future__ import annotations

import gc

from pcm_ops.settings import Settings

#: New container objects between two young collections (Python's default is 700).
YOUNG_THRESHOLD = 10_000

__all__ = ["YOUNG_THRESHOLD", "freeze_and_collect_less_often", "tune_garbage_collector"]

_tuned = False


def tune_garbage_collector(settings: Settings) -> bool:
    """Freeze what the process has made so far and raise the young generation's
    threshold, unless ``settings.tune_gc`` is off or a start-up of this process already
    did; ``True`` when it did.

    Call it once start-up is over (core does, in the server's lifespan and in
    ``pcm-ops worker``): what is frozen is never collected, so it should be only what
    lives as long as the process. A process that starts applications again and again
    (a test run) freezes once at most.
    """
    global _tuned
    if not settings.tune_gc or _tuned:
        return False
    _tuned = True
    freeze_and_collect_less_often()
    return True


def freeze_and_collect_less_often() -> None:
    """The set-up itself, whatever the settings: collect, freeze what is left, and collect
    young objects every :data:`YOUNG_THRESHOLD` allocations (for a process that is not a
    PCM-Ops one, such as a benchmark's baseline)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
