"""Event stream names (importable without the job engine)."""

from __future__ import annotations


def stream_of(execution_id: int) -> str:
    """The event stream of execution ``execution_id``."""
    return f"aws-script-runner:execution:{execution_id}"
