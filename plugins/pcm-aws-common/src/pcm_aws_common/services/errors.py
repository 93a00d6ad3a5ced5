"""What the services raise. Each message says what went wrong and what to do next; the API
turns them into HTTP errors (:mod:`pcm_aws_common.api.errors`), the CLI prints them."""

from __future__ import annotations


class AwsCommonError(Exception):
    """Base class of every error of this plugin."""


class FieldProblem(AwsCommonError):
    """A value is not acceptable; ``field`` names it as the API's request body does."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
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


class NotFound(AwsCommonError):
    """The object does not exist, or the caller may not see it."""


class Conflict(AwsCommonError):
    """The change contradicts the state of other objects (a duplicate, a reference)."""


class Forbidden(AwsCommonError):
    """The caller's permissions do not allow this change."""


class AwsAccessError(AwsCommonError):
    """The client factory could not get credentials for a call."""


class AccountNotFound(AwsAccessError, NotFound):
    """The account is not in the registry."""


class SourceNotFound(AwsAccessError, NotFound):
    """The credential source does not exist, or belongs to someone else."""


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


class AwsUnavailable(AwsCommonError):
    """AWS (or the configured endpoint) could not be reached."""
