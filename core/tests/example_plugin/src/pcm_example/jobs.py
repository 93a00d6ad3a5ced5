"""The example plugin's durable work.

Core imports this module only when it starts the job engine (in the server and in
``pcm-ops worker``), never at discovery. A real plugin declares its workflows and steps
here; this one has a plain function, the body such a step would have.
"""

from __future__ import annotations

from collections.abc import Iterable


def summarize_notes(titles: Iterable[str]) -> str:
    """A one-line digest of note titles."""
    titles = list(titles)
    return f"{len(titles)} note(s): {', '.join(titles)}" if titles else "no notes"
