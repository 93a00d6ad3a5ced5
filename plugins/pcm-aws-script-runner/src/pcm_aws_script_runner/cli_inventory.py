"""`pcm-ops script-runner inventory` (being written)."""

from __future__ import annotations

import click


@click.group("inventory")
def inventory() -> None:
    """Inventory."""
