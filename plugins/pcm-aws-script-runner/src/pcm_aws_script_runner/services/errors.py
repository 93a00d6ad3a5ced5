"""What the services raise. Each message says what went wrong and what to do next.

They are core's :class:`pcm_ops.errors.ServiceError` kinds, so every caller shows them the
same way: a route lets them propagate and core answers with their status (``InvalidInput``:
a 422 naming each field), the pages show them next to the form, and ``pcm-ops`` prints
``Error: <message>`` and exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcm_ops.errors import ConflictError, NotFoundError, ServiceError, UpstreamError
from pcm_ops.errors import InvalidInput as CoreInvalidInput

if TYPE_CHECKING:
    from pcm_aws_script_runner.services.executions.checks import CheckReport


class ScriptRunnerError(ServiceError):
    """Base class of every error of this plugin."""


class InvalidInput(ScriptRunnerError, CoreInvalidInput):
    """One or more values are not acceptable; each problem names its field.

    ``problems`` holds ``(field, message)`` pairs; ``field`` is the path in the API's
    request body (``name``, ``parameters[1].default``; for run parameters,
    ``parameters.<name>``).
    """


class NotFound(ScriptRunnerError, NotFoundError):
    """The object does not exist."""


class Conflict(ScriptRunnerError, ConflictError):
    """The change contradicts the state of the object or of others (a duplicate name, an
    archived script)."""


class TargetResolutionError(ScriptRunnerError, UpstreamError):
    """A target source could not turn a reference into instances; the message names the
    source and its plugin."""


class Blocked(ScriptRunnerError, ConflictError):
    """A pre-execution check refused the run (409); the message holds every reason."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        super().__init__(f"the run is blocked by pre-execution checks: {report.reason()}")
