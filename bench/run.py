"""Run every benchmark of bench/ (``bench/*_bench.py``), one after the other.

    python bench/run.py [--only NAME[,NAME...]] [ARGS...]

``--only fanout,jobs`` runs only ``fanout_bench.py`` and ``jobs_bench.py``. The other
arguments are passed to every benchmark, each of which ignores the options it does not
know (``--runs 5`` is understood by all). Exits non-zero if any benchmark fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    args = sys.argv[1:]
    scripts = sorted(HERE.glob("*_bench.py"))
    if "--only" in args:
        at = args.index("--only")
        if at + 1 >= len(args):
            print("--only needs benchmark names: " + _names(scripts), file=sys.stderr)
            return 2
        wanted = {name.strip() for name in args[at + 1].split(",") if name.strip()}
        del args[at : at + 2]
        unknown = wanted - {script.name.removesuffix("_bench.py") for script in scripts}
        if unknown:
            print(
                f"--only: no benchmark {', '.join(sorted(unknown))}; there are " + _names(scripts),
                file=sys.stderr,
            )
            return 2
        scripts = [s for s in scripts if s.name.removesuffix("_bench.py") in wanted]
    for script in scripts:
        print(f"== {script.relative_to(HERE.parent)}", flush=True)
        if subprocess.run([sys.executable, str(script), *args]).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(scripts)} benchmark(s) done")
    return 0


def _names(scripts: list[Path]) -> str:
    return ", ".join(script.name.removesuffix("_bench.py") for script in scripts)


if __name__ == "__main__":
    sys.exit(main())
