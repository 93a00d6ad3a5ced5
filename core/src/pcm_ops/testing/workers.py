"""``pcm-ops worker`` processes for a test: start them on the test's database, kill one with
SIGKILL, start it again under the same executor id, and read what they logged.

For the tests that prove a durable job survives its process (the exactly-once tests of the
script runner and of the ServiceNow work notes use it). The fixture ``pcm_workers`` gives a
:class:`WorkerProcesses` for the test's ``pcm_settings``; every process still running at the
end of the test is stopped (SIGTERM, then SIGKILL)::

    async def test_a_job_survives_its_worker(pcm_workers, ...):
        worker = pcm_workers.start("worker-1")
        ...                                   # the job is half done
        pcm_workers.kill(worker)              # SIGKILL: no clean-up runs
        pcm_workers.start("worker-1")         # the same executor id resumes its jobs
        ...
        assert ..., pcm_workers.logs()

A worker gets the environment of the test (the ``PCM_*`` variables the test set with
``monkeypatch.setenv``, such as a plugin's settings or a fake's endpoint), the settings'
data directory, database and plugins, and every core setting of ``pcm_settings`` that is not
its default (``jobs_queue_poll_seconds=0.05`` given to ``make_pcm_settings``, say) as its
``PCM_<NAME>`` variable. Plugin sections given to ``make_pcm_settings(plugin_sections=...)``
are not passed on: set those with ``monkeypatch.setenv`` so that both processes read them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pcm_ops.settings import Settings

__all__ = ["WorkerProcesses", "pcm_workers", "worker_environment"]

#: What a worker logs once it takes jobs (``pcm-ops worker``).
READY_LINE = "running jobs from"


def worker_environment(
    settings: Settings, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a ``pcm-ops worker`` that shares ``settings`` (see the module)."""
    env = dict(os.environ)
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if value == field.default or value is None or isinstance(value, Mapping):
            continue
        if isinstance(value, list | tuple | frozenset | set):
            value = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"PCM_{name.upper()}"] = str(value)
    env["PCM_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["PCM_DATABASE_URL"] = settings.database_url
    env.update(extra or {})
    return env


class WorkerProcesses:
    """``pcm-ops worker`` processes sharing a test's settings; each logs to its own file in
    ``log_dir``."""

    def __init__(
        self, settings: Settings, log_dir: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.settings, self.log_dir, self.env = settings, log_dir, dict(env or {})
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, executor_id: str, *, ready_within: float = 60.0) -> subprocess.Popen[bytes]:
        """Start a worker with ``executor_id``; return once it takes jobs.

        :raises AssertionError: it exited, or did not take jobs within ``ready_within``
            seconds (the message holds its log).
        """
        log = self.log_dir / f"worker-{executor_id}-{len(self.processes)}.log"
        command = [
            str(Path(sys.executable).with_name("pcm-ops")),
            "worker",
            "--executor-id",
            executor_id,
        ]
        with log.open("wb") as handle:
            process = subprocess.Popen(
                command,
                env=worker_environment(self.settings, self.env),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        self.processes.append((process, log))
        deadline = time.monotonic() + ready_within
        while READY_LINE not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        return process

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL ``process`` (nothing of it runs after this) and reap it."""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def logs(self) -> str:
        """Every worker's log, each under its file name (for assertion messages)."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')}" for _, log in self.processes
        )

    def stop_all(self) -> None:
        """SIGTERM every worker still running; SIGKILL one that does not stop in 15 s."""
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture
def pcm_workers(pcm_settings: Any, tmp_path: Path) -> Iterator[WorkerProcesses]:
    """:class:`WorkerProcesses` for the test's ``pcm_settings`` (override ``pcm_settings``
    to give the server ``jobs_execute_in_server=False``, so that only the workers run jobs);
    the workers still running are stopped when the test ends."""
    workers = WorkerProcesses(pcm_settings, tmp_path)
    try:
        yield workers
    finally:
        workers.stop_all()
