"""A job worker for tests: ``pcm-ops worker`` with the test plugin loaded.

Run as a script (``python worker_main.py``); settings come from ``PCM_*`` variables, the
executor id from ``PCM_EXECUTOR_ID`` and the queues from ``argv[1:]``. The test plugin is
not installed, so this discovers it from an explicit entry point; the script's folder is on
``sys.path`` because it is run as a script.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import EntryPoint

from pcm_ops.discovery import ENTRY_POINT_GROUP, discover
from pcm_ops.jobs.worker import run_worker
from pcm_ops.settings import load_settings

TEST_PLUGIN = EntryPoint("jobs-test", "pcm_test_jobs.plugin", ENTRY_POINT_GROUP)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="worker %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    registry = discover(settings, entry_points_=[TEST_PLUGIN])
    queues = sys.argv[1:] or None
    run_worker(
        settings,
        registry,
        queues=queues,
        drain_seconds=0,
        on_ready=lambda engine: print(f"READY {engine.executor_id}", flush=True),
    )


if __name__ == "__main__":
    main()
