"""What the plugin holds while an application runs: its client factory and health cache.

Start-up puts them on ``app.state`` (``app.state.aws_clients``) and here, keyed by the
application's settings object, because the health-check hook is called before start-up and
gets no ``app``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_aws_common.services.clients import AwsClients
    from pcm_aws_common.services.health import SourceHealth

_RUNNING: dict[int, AwsCommonRuntime] = {}


@dataclass
class AwsCommonRuntime:
    clients: AwsClients
    health: SourceHealth


def start(settings: Any, state: AwsCommonRuntime) -> None:
    _RUNNING[id(settings)] = state


def stop(settings: Any) -> AwsCommonRuntime | None:
    return _RUNNING.pop(id(settings), None)


def current(settings: Any) -> AwsCommonRuntime | None:
    return _RUNNING.get(id(settings))
