"""What the services raise. Each message says what went wrong and what to do next; the API
turns them into HTTP errors (:mod:`pcm_aws_script_runner.api.errors`), the pages show them
next to the form, and the CLI prints them (they are :class:`pcm_ops.errors.PcmOpsError`, so
``pcm-ops`` prints ``Error: <message>`` and exits 1)."""

from __future__ import annotations

from collections.abc import Iterable

from pcm_ops.errors import PcmOpsError


class ScriptRunnerError(PcmOpsError):
    """Base class of every error of this plugin."""


class InvalidInput(ScriptRunnerError):
    """One or more values are not acceptable; each problem names its field.

    ``problems`` holds ``(field, message)`` pairs; ``field`` is the path in the API's
    request body (``name``, ``parameters[1].default``; for run parameters,
    ``parameters.<name>``).
    """

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("InvalidInput needs at least one problem")
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            field, message = self.problems[0]
            return f"{field}: {message}"
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  {field}: {message}" for field, message in self.problems]
        return "\n".join(lines)

    def for_field(self, field: str) -> list[str]:
        """The messages about ``field`` and its sub-fields (``parameters`` gives
        ``parameters[0].name`` too)."""
        return [
            message
            for name, message in self.problems
            if name == field or name.startswith((f"{field}[", f"{field}."))
        ]


class NotFound(ScriptRunnerError):
    """The object does not exist."""


class Conflict(ScriptRunnerError):
    """The change contradicts the state of the object or of others (a duplicate name, an
    archived script)."""


class TargetResolutionError(ScriptRunnerError):
    """A target source could not turn a reference into instances; the message names the
    source and its plugin."""
