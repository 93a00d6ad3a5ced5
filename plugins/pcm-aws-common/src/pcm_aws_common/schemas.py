"""What the API (and the CLI) accept and return, separate from the table models.

Secrets are ``SecretStr`` on the way in (never printed in a repr or a log) and never go out:
responses say ``"set"`` where a secret is stored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from pcm_aws_common.patterns import ACCOUNT_ID, ROLE_ARN
from pcm_ops.api.params import Id

_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_NAME = re.compile(r"^[^\x00-\x1f]{1,100}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")

Kind = Literal["keys", "profile", "default"]
SetMarker = Literal["set"]


def check_account_id(value: str) -> str:
    value = value.strip()
    if not ACCOUNT_ID.match(value):
        raise ValueError(f"{value!r} is not an AWS account id: it must be exactly 12 digits")
    return value


def check_role_arn(value: str) -> str:
    value = value.strip()
    if not ROLE_ARN.match(value):
        raise ValueError(
            f"{value!r} is not an IAM role ARN; expected arn:<partition>:iam::<12-digit "
            "account>:role/<name>"
        )
    return value


def role_arn_parts(value: str) -> tuple[str, str]:
    """``(partition, account)`` of a role ARN checked by :func:`check_role_arn`."""
    match = ROLE_ARN.match(value)
    assert match is not None
    return match.group("partition"), match.group("account")


def check_tags(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 50:
        raise ValueError("at most 50 tags")
    for key, tag_value in value.items():
        if not 1 <= len(key) <= 128:
            raise ValueError(f"tag key {key[:20]!r} must have 1 to 128 characters")
        if len(tag_value) > 256:
            raise ValueError(f"the value of tag {key!r} must have at most 256 characters")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- partitions ------------------------------------------------------------------------------


class RegionOut(BaseModel):
    id: str
    description: str


class PartitionOut(BaseModel):
    id: str = Field(description="`aws` or `aws-us-gov`.")
    name: str = Field(description="`Commercial` or `GovCloud`.")
    aws_name: str
    default_region: str
    regions: list[RegionOut]


# -- credential sources ------------------------------------------------------------------------


class CredentialSourceIn(_In):
    """A new credential source. ``keys`` need ``access_key_id`` and ``secret_access_key``
    (and ``session_token`` for temporary keys); ``profile`` needs ``profile_name``;
    ``default`` (the host's default chain) needs nothing."""

    name: str = Field(min_length=1, max_length=100)
    partition: str = Field(description="`aws` (Commercial) or `aws-us-gov` (GovCloud).")
    kind: Kind = "keys"
    profile_name: str | None = Field(default=None, min_length=1, max_length=100)
    access_key_id: str | None = Field(default=None, pattern=r"^[A-Z0-9]{16,128}$")
    secret_access_key: SecretStr | None = Field(default=None, min_length=1, max_length=256)
    session_token: SecretStr | None = Field(default=None, min_length=1, max_length=8192)
    expires_at: datetime | None = Field(
        default=None, description="When temporary keys expire, if you know it."
    )
    shared: bool = Field(
        default=False,
        description="Visible to and usable by everyone, and able to reach registry "
        "accounts (requires aws-common:credentials.share). The default chain and profiles "
        "are always shared.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("expires_at")
    @classmethod
    def _expires_at(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


def _as_utc(value: datetime | None) -> datetime | None:
    """Times without a zone (a browser's datetime-local field) are taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class CredentialSourcePatch(_In):
    """Changes to a source; omitted fields stay. New keys are validated like new ones."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    access_key_id: str | None = Field(default=None, pattern=r"^[A-Z0-9]{16,128}$")
    secret_access_key: SecretStr | None = Field(default=None, min_length=1, max_length=256)
    session_token: SecretStr | None = Field(default=None, min_length=1, max_length=8192)
    expires_at: datetime | None = None
    shared: bool | None = None

    @field_validator("expires_at")
    @classmethod
    def _expires_at(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


class CredentialSourceOut(BaseModel):
    id: int
    name: str
    partition: str
    partition_name: str
    kind: Kind
    profile_name: str | None
    shared: bool
    access_key_id: SetMarker | None = Field(description="`set` when keys are stored.")
    secret_access_key: SetMarker | None
    session_token: SetMarker | None
    status: str = Field(description="unknown, valid, expired or invalid.")
    status_detail: str
    identity_account: str | None
    identity_arn: str | None
    expires_at: datetime | None
    checked_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


# -- accounts --------------------------------------------------------------------------------


class _AccountFields(_In):
    @field_validator("role_arn", check_fields=False)
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        return None if value is None or value == "" else check_role_arn(value)

    @field_validator("external_id", check_fields=False)
    @classmethod
    def _external_id(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _EXTERNAL_ID.match(value):
            raise ValueError(
                "must be 2 to 1224 letters, digits or +=,.@:/-_ (STS's rule for ExternalId)"
            )
        return value

    @field_validator("tags", check_fields=False)
    @classmethod
    def _tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else check_tags(value)


class AccountIn(_AccountFields):
    """A new registry account."""

    account_id: str = Field(description="12 digits.")
    name: str = Field(min_length=1, max_length=100)
    partition: str = Field(description="`aws` (Commercial) or `aws-us-gov` (GovCloud).")
    regions: list[str] = Field(min_length=1, max_length=64, description="Enabled regions.")
    tags: dict[str, str] = Field(default_factory=dict)
    credential_source_id: Id = Field(description="A shared source of the same partition.")
    role_arn: str | None = Field(
        default=None,
        description="Assume this role (in the account, same partition); none: use the "
        "source's credentials directly.",
    )
    external_id: str | None = None
    session_duration_seconds: int = Field(default=3600, ge=900, le=43200)
    description: str = Field(default="", max_length=500)

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, value: str) -> str:
        return check_account_id(value)


class AccountPatch(_AccountFields):
    """Changes to an account; omitted fields stay (send ``role_arn: null`` to go direct)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    regions: list[str] | None = Field(default=None, min_length=1, max_length=64)
    tags: dict[str, str] | None = None
    credential_source_id: Id | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_duration_seconds: int | None = Field(default=None, ge=900, le=43200)
    description: str | None = Field(default=None, max_length=500)


class AccountOut(BaseModel):
    account_id: str
    name: str
    partition: str
    partition_name: str
    regions: list[str]
    tags: dict[str, str]
    credential_source_id: int
    credential_source_name: str
    access: Literal["role", "direct"] = Field(
        description="`role`: AssumeRole into role_arn; `direct`: the source's credentials."
    )
    role_arn: str | None
    external_id: str | None
    session_duration_seconds: int
    description: str
    origin: str
    created_at: datetime
    updated_at: datetime


class AccountCheckOut(BaseModel):
    account_id: str
    ok: bool
    identity_account: str | None = None
    identity_arn: str | None = None
    detail: str = ""


# -- Organizations import --------------------------------------------------------------------


class ImportIn(_AccountFields):
    """Where to read the organization, and how the imported accounts will be reached."""

    credential_source_id: Id = Field(description="A shared source in the management account.")
    management_role_arn: str | None = Field(
        default=None, description="Assume this role to reach the management account."
    )
    regions: list[str] = Field(min_length=1, max_length=64)
    member_role_name: str | None = Field(
        default="OrganizationAccountAccessRole",
        description="Imported accounts are reached by assuming this role in each; none: "
        "directly with the source.",
    )
    external_id: str | None = None
    session_duration_seconds: int = Field(default=3600, ge=900, le=43200)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("management_role_arn")
    @classmethod
    def _management_role_arn(cls, value: str | None) -> str | None:
        return None if value is None or value == "" else check_role_arn(value)

    @field_validator("member_role_name")
    @classmethod
    def _member_role_name(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _ROLE_NAME.match(value):
            raise ValueError("must be an IAM role name: 1 to 64 letters, digits or +=,.@-_")
        return value


class ImportSaveIn(ImportIn):
    account_ids: list[str] = Field(min_length=1, description="Accounts of the preview to save.")

    @field_validator("account_ids")
    @classmethod
    def _account_ids(cls, value: list[str]) -> list[str]:
        return [check_account_id(item) for item in value]


class OrgAccountOut(BaseModel):
    account_id: str
    name: str
    email: str
    status: str
    management: bool = Field(description="The organization's management account.")
    registered: bool = Field(description="Already in the registry.")
    importable: bool
    reason: str = ""
    role_arn: str | None = Field(description="How it will be reached once imported.")


class ImportPreviewOut(BaseModel):
    partition: str
    management_account: str
    accounts: list[OrgAccountOut]


class ImportSkipped(BaseModel):
    account_id: str
    reason: str


class ImportOut(BaseModel):
    created: list[AccountOut]
    skipped: list[ImportSkipped]


# -- metrics ---------------------------------------------------------------------------------


class ApiCallCountOut(BaseModel):
    service: str
    operation: str
    calls: int
    errors: int
