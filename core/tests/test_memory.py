"""pcm_ops.memory: the garbage collector of a started server or worker."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_started_server_freezes_its_start_up_and_collects_young_objects_less_often(tmp_path):
    out = _run(
        f"""
        import asyncio, gc, json
        from pcm_ops.app import create_app
        from pcm_ops.discovery import discover
        from pcm_ops.settings import load_settings
        from pcm_ops.testing import app_client

        settings = load_settings(data_dir={str(tmp_path)!r}, plugins=[], migrate_on_start=True)
        before = gc.get_freeze_count(), gc.get_threshold()[0]

        async def main():
            app = create_app(settings, discover(settings))
            async with app_client(app) as client:
                assert (await client.get("/healthz")).status_code == 200
                return gc.get_freeze_count(), gc.get_threshold()[0]

        print(json.dumps([before, asyncio.run(main())]))
        """
    )
    before, after = json.loads(out)

    assert before == [0, 700]
    assert after[0] > 10_000  # the modules, classes and route table of the start-up
    assert after[1] == 10_000


def test_tune_gc_off_leaves_the_collector_as_python_sets_it(make_pcm_settings):
    from pcm_ops.memory import tune_garbage_collector

    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert tune_garbage_collector(make_pcm_settings()) is False  # tests default to off
    assert tune_garbage_collector(make_pcm_settings(tune_gc=False)) is False
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
