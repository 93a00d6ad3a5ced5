"""Run every benchmark of bench/ (``bench/*_bench.py``), one after the other.

    python bench/run.py [ARGS...]

Arguments are passed to every benchmark. Exits non-zero if any benchmark fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    scripts = sorted(HERE.glob("*_bench.py"))
    for script in scripts:
        print(f"== {script.relative_to(HERE.parent)}", flush=True)
        if subprocess.run([sys.executable, str(script), *sys.argv[1:]]).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(scripts)} benchmark(s) done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
