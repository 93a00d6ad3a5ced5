"""What the services raise. Each message says what went wrong and what to do next.

They are core's :class:`pcm_ops.errors.ServiceError` kinds: a route lets them propagate and
core answers with their status (a :class:`FieldProblem` is a 422 naming its field; an AWS
that cannot be reached, or refuses the platform's credentials, a 502), and the CLI prints
them.
"""

from __future__ import annotations

from pcm_ops.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInput,
    NotFoundError,
    ServiceError,
    UpstreamError,
)


class AwsCommonError(ServiceError):
    """Base class of every error of this plugin."""


class FieldProblem(AwsCommonError, InvalidInput):
    """A value is not acceptable; ``field`` names it as the API's request body does."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__([(field, message)])
        self.field = field
        self.message = message


class CredentialsRejected(FieldProblem):
    """AWS refused entered credentials (sts:GetCallerIdentity failed)."""

    def __init__(self, field: str, code: str, aws_message: str, status: str) -> None:
        super().__init__(field, f"AWS rejected these credentials: {code}: {aws_message}")
        self.code = code
        self.aws_message = aws_message
        #: ``invalid`` or ``expired``.
        self.status = status


class NotFound(AwsCommonError, NotFoundError):
    """The object does not exist, or the caller may not see it."""


class Conflict(AwsCommonError, ConflictError):
    """The change contradicts the state of other objects (a duplicate, a reference)."""


class Forbidden(AwsCommonError, ForbiddenError):
    """The caller's permissions do not allow this change."""


class AwsAccessError(AwsCommonError, UpstreamError):
    """The client factory could not get credentials for a call."""


class AccountNotFound(AwsAccessError, NotFound):
    """The account is not in the registry."""

    status_code = NotFound.status_code


class SourceNotFound(AwsAccessError, NotFound):
    """The credential source does not exist, or belongs to someone else."""

    status_code = NotFound.status_code


class RegionNotAllowed(AwsAccessError):
    """The region is not in the account's partition, or not enabled for the account."""


class PartitionBoundaryError(AwsAccessError):
    """Credentials of one partition were asked to reach into another; AWS never allows
    that, so the client factory refuses before calling AWS."""


class AssumeRoleError(AwsAccessError):
    """sts:AssumeRole failed; the message names the account, the role and what AWS said."""

    def __init__(
        self, account: str, role_arn: str, code: str, aws_message: str, label: str | None = None
    ) -> None:
        target = label or f"account {account}"
        super().__init__(f"cannot assume role {role_arn} for {target}: {code}: {aws_message}")
        self.account = account
        self.role_arn = role_arn
        self.code = code
        self.aws_message = aws_message


class AwsUnavailable(AwsCommonError, UpstreamError):
    """AWS (or the configured endpoint) could not be reached."""
