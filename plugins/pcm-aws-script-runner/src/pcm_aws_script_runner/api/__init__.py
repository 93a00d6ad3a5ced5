"""The plugin's JSON API, mounted under ``/api/tools/aws/script-runner``: one router per
resource. Every route declares the permission it needs and its response model."""

from __future__ import annotations

from typing import Any


def routers() -> list[Any]:
    from pcm_aws_script_runner.api import executions, inventory, scripts, targets

    return [scripts.router, targets.router, inventory.router, executions.router]
