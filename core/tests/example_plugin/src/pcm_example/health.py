"""The example plugin's readiness check, run by ``/readyz``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pcm_ops.plugin import HealthResult


def greeting_is_set(config: Any) -> Callable[[], Awaitable[HealthResult]]:
    """A check that fails when the plugin's greeting is blank: something a real plugin
    would do for its backend's address or credentials."""

    async def check() -> HealthResult:
        if not config.greeting.strip():
            return HealthResult(False, "set [example] greeting in the config file")
        return HealthResult(True)

    return check
