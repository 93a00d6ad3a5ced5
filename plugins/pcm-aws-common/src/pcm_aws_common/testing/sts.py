"""moto's STS, made stricter where PCM-Ops' tests need AWS's behaviour.

- AssumeRole into a role that does not exist is refused with AWS's ``AccessDenied``
  ("User: ... is not authorized to perform: sts:AssumeRole on resource: ..."); moto would
  hand out credentials for any ARN.
- AssumeRole across a partition (a GovCloud role from a Commercial region, or the reverse)
  is refused the same way.
- ``DurationSeconds`` above the role's ``MaxSessionDuration`` is refused with AWS's
  ``ValidationError``.
- Tests can make assumed-role credentials expire after a few seconds
  (:attr:`ServerControls.assume_role_seconds`), to exercise refreshing; the server's
  authentication then refuses them once expired.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from moto.core.exceptions import AccessDeniedError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sts.exceptions import STSValidationError
from moto.sts.responses import TokenResponse
from moto.utilities.utils import get_partition

from pcm_aws_common.testing.controls import CONTROLS

_ROLE_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):role/(?P<path>.+)$")


class PcmStsResponse(TokenResponse):
    """moto's STS responses with the rules above."""

    def assume_role(self) -> ActionResult:
        role_arn = self._get_param("RoleArn") or ""
        duration = self._get_int_param("DurationSeconds", 3600)
        role = self._find_role(role_arn)
        if role is None:
            # moto's own AccessDenied (HTTP 403), phrased as AWS phrases it for AssumeRole
            raise AccessDeniedError(
                user_arn=self._caller_arn(), action=f"sts:AssumeRole on resource: {role_arn}"
            )
        maximum = int(getattr(role, "max_session_duration", 3600) or 3600)
        if duration > maximum:
            raise STSValidationError(
                f"The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                f"role ({maximum})."
            )
        result = super().assume_role()
        seconds = CONTROLS.assume_role_seconds
        if seconds is not None:
            credentials = result.result["Credentials"]  # type: ignore[index]
            credentials.expiration = utcnow() + datetime.timedelta(seconds=seconds)
        return result

    def _find_role(self, role_arn: str) -> Any:
        from moto.iam.models import iam_backends

        match = _ROLE_ARN.match(role_arn)
        if match is None or match.group("partition") != get_partition(self.region):
            return None
        backend = iam_backends[match.group("account")][match.group("partition")]
        try:
            return backend.get_role_by_arn(role_arn)
        except Exception:  # moto's IAMNotFoundException; any failure means "no such role"
            return None

    def _caller_arn(self) -> str:
        _, arn, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
        return str(arn)


def install() -> None:
    """Route moto's STS requests to :class:`PcmStsResponse` (idempotent, process-wide)."""
    from moto.sts import urls

    for path, handler in list(urls.url_paths.items()):
        if getattr(handler, "__self__", None) is TokenResponse:
            urls.url_paths[path] = PcmStsResponse.dispatch
