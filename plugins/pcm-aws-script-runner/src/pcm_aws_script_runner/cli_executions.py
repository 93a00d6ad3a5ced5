"""`pcm-ops script-runner executions` (being written)."""

from __future__ import annotations

import click


@click.group("executions")
def executions() -> None:
    """Executions."""
