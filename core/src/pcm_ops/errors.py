"""Errors a user can meet. Each carries a message that says what is wrong and what to do.

The CLI prints these as one line (or one line per problem) and exits non-zero; it never
shows a traceback for them.
"""

from __future__ import annotations

from collections.abc import Iterable


class PcmOpsError(Exception):
    """Base class of the errors that are the user's to fix, not bugs."""


class ConfigError(PcmOpsError):
    """Settings that cannot be used. Holds every problem found, each naming its key."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            key, message = self.problems[0]
            return f"invalid setting {key}: {message}"
        lines = [f"{len(self.problems)} invalid settings:"]
        lines += [f"  {key}: {message}" for key, message in self.problems]
        return "\n".join(lines)


class PluginError(PcmOpsError):
    """A plugin could not be loaded, or (in strict mode) any plugin failure at all."""


class DatabaseError(PcmOpsError):
    """The database cannot be reached or is not in the state a command needs."""
