"""Benchmark of the command line's start-up: ``pcm-ops --help`` against importing click.

    python bench/cli_bench.py [--runs 10] [--group aws-common]

Each command runs ``--runs`` times as a fresh process (the ``pcm-ops`` console script of
this environment, with the environment's own settings); the median wall time is reported,
with the spread, against the baseline ``python -c "import click"`` measured in the same
run. The commands: ``pcm-ops --help``, ``pcm-ops <group> --help`` for a plugin's command
group (``--group``; default: the first plugin group ``pcm-ops --help`` lists), and
``pcm-ops version``.

Besides the wall time, the CPU time (user + system) of each process is reported: on a
machine shared with other work it varies less than the wall time.

Run it with the environment's bytecode compiled, as an installed wheel has it
(``python -m compileall -q <site-packages>``): with ``PYTHONDONTWRITEBYTECODE=1`` and no
``.pyc`` files every run compiles every module again.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(command: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` fresh processes running ``command``."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu_before = _children_cpu()
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - cpu_before)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--group", default=None)
    args, _unknown = parser.parse_known_args()
    script = Path(sys.executable).with_name("pcm-ops")
    pcm_ops = [str(script)] if script.exists() else [shutil.which("pcm-ops") or "pcm-ops"]
    group = args.group
    if group is None:
        listing = subprocess.run([*pcm_ops, "--help"], capture_output=True, text=True).stdout
        core = {"serve", "db", "plugins", "version", "users", "tokens"}
        core |= {"audit", "secrets", "jobs", "worker"}
        names = [
            line.split()[0]
            for line in listing.split("Commands:", 1)[-1].splitlines()
            if line.startswith("  ") and line.split()
        ]
        group = next((name for name in names if name not in core), None)
    from pcm_ops.__about__ import __version__

    print(f"Python {platform.python_version()}, pcm-ops-core {__version__}")
    commands = {
        'python -c "import click" (baseline)': [sys.executable, "-c", "import click"],
        "pcm-ops --help": [*pcm_ops, "--help"],
        "pcm-ops version": [*pcm_ops, "version"],
    }
    if group:
        commands[f"pcm-ops {group} --help"] = [*pcm_ops, group, "--help"]
    results = {name: _time(command, args.runs) for name, command in commands.items()}
    base_wall, base_cpu = (statistics.median(samples) for samples in next(iter(results.values())))
    print(f"start-up of a fresh process, median of {args.runs} runs (spread min-max)")
    for name, (walls, cpus) in results.items():
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"  {name:40} wall {wall * 1000:7.1f} ms ({min(walls) * 1000:.1f}-"
            f"{max(walls) * 1000:.1f}) {wall / base_wall:.2f}x   "
            f"cpu {cpu * 1000:6.1f} ms {cpu / base_cpu:.2f}x  (ratios vs import click)"
        )


if __name__ == "__main__":
    main()
