"""What the API accepts and returns, separate from the table models. Secrets are
write-only: they are accepted, never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AuthKind = Literal["basic", "oauth_client_credentials", "oauth_password", "api_key"]


class ConnectionIn(BaseModel):
    """A ServiceNow connection to add. Which credentials are needed depends on
    ``auth_kind``: ``basic`` username + password; ``oauth_client_credentials`` client_id +
    client_secret; ``oauth_password`` all four; ``api_key`` api_key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Unique; how runs name it.")
    base_url: str = Field(
        min_length=1, max_length=500, description="The instance, e.g. https://acme.service-now.com"
    )
    auth_kind: AuthKind
    username: str = Field(default="", max_length=200)
    password: str = Field(default="", max_length=1000, description="Write-only.")
    client_id: str = Field(default="", max_length=200)
    client_secret: str = Field(default="", max_length=1000, description="Write-only.")
    api_key: str = Field(default="", max_length=1000, description="Write-only.")
    ca_bundle: str | None = Field(
        default=None,
        max_length=100_000,
        description="PEM certificates to trust besides the system's.",
    )
    client_cert: str | None = Field(
        default=None,
        max_length=100_000,
        description="A client certificate for mutual TLS (PEM, with any intermediates); "
        "needs client_key.",
    )
    client_key: str | None = Field(
        default=None,
        max_length=20_000,
        description="The client certificate's private key (unencrypted PEM). Write-only.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=1000)


class ConnectionUpdate(BaseModel):
    """What may change; a secret left out keeps its value (``null`` removes the CA bundle;
    ``client_cert`` and ``client_key`` both ``null`` remove the client certificate)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(default=None, min_length=1, max_length=500)
    auth_kind: AuthKind | None = None
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=1000)
    client_id: str | None = Field(default=None, max_length=200)
    client_secret: str | None = Field(default=None, max_length=1000)
    api_key: str | None = Field(default=None, max_length=1000)
    ca_bundle: str | None = Field(default=None, max_length=100_000)
    client_cert: str | None = Field(default=None, max_length=100_000)
    client_key: str | None = Field(default=None, max_length=20_000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=1000)


class ConnectionOut(BaseModel):
    id: int
    name: str
    base_url: str
    auth_kind: str
    username: str
    client_id: str
    has_password: bool
    has_client_secret: bool
    has_api_key: bool
    has_ca_bundle: bool
    has_client_cert: bool
    has_client_key: bool
    timeout_seconds: float
    rate_limit_per_second: float | None
    status: Literal["ok", "error", "unchecked"]
    last_success_at: datetime | None
    last_checked_at: datetime | None
    last_error: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class ConnectionCheck(BaseModel):
    ok: bool
    detail: str
    connection: ConnectionOut
