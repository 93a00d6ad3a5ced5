"""The fan-out benchmark (``bench/fanout_bench.py``) runs at a tiny size, and both it and its
baseline make exactly the AWS calls that the fleet needs. Counts, never timings: those are
the benchmark's to report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[5] / "bench" / "fanout_bench.py"
#: Figures by backend: the tests of this file share one run per backend (it takes seconds).
_RUNS: dict[str, dict] = {}

pytestmark = [
    pytest.mark.slow,
    # The benchmark itself runs on both databases (`--backends`); checking its counts on
    # one is enough here, and a run takes half a minute.
    pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True),
    pytest.mark.skipif(not SCRIPT.exists(), reason="bench/ is not here (not a repository)"),
]


@pytest.fixture
def tiny_run(pcm_backend: str, tmp_path: Path) -> dict:
    """One account, two regions of 60 instances each (two batches per region), no latency."""
    if pcm_backend in _RUNS:
        return _RUNS[pcm_backend]
    output = tmp_path / "figures.json"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    if pcm_backend == "postgresql":
        environment["PCM_BENCH_POSTGRES_URL"] = os.environ["PCM_TEST_POSTGRES_URL"]
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *("--accounts", "1", "--regions", "2", "--per-region", "60"),
            *("--latency", "0", "--delayed", "0", "--runs", "1", "--baseline-runs", "1"),
            *("--backends", pcm_backend, "--json", str(output)),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    _RUNS[pcm_backend] = json.loads(output.read_text())
    return _RUNS[pcm_backend]


def test_an_execution_makes_the_fewest_ssm_calls_the_limits_allow(tiny_run, pcm_backend):
    # Per region: 60 instances = 2 SendCommand (50 ids each at most) + 2 result pages.
    assert tiny_run["minimum_ssm_calls"] == 8
    [row] = [r for r in tiny_run["pcm_ops"] if r["backend"] == pcm_backend]
    assert row["calls"] == {"ssm.ListCommandInvocations": 4, "ssm.SendCommand": 4}
    assert row["calls_over_minimum"] == 1.0


def test_the_baseline_asks_for_each_instance_result_separately(tiny_run):
    assert tiny_run["baseline"]["calls"] == {
        "ssm.GetCommandInvocation": 120,
        "ssm.SendCommand": 4,
        "sts.AssumeRole": 1,
    }
