"""The plugin's tables (prefix ``snow_``); migration ``snow_0001`` creates them, ``snow_0002``
adds a connection's client certificate."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow
from pcm_ops.security.secrets import EncryptedString

#: The ways to authenticate to ServiceNow.
AUTH_KINDS = ("basic", "oauth_client_credentials", "oauth_password", "api_key")


class SnowConnection(SQLModel, table=True):
    """A ServiceNow instance PCM-Ops talks to. Secrets are encrypted at rest (core's
    secrets) and never leave through the API."""

    __tablename__ = "snow_connection"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    base_url: str = Field(max_length=500)
    auth_kind: str = Field(max_length=30)
    username: str = Field(default="", max_length=200)
    client_id: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, sa_type=EncryptedString)
    client_secret: str | None = Field(default=None, sa_type=EncryptedString)
    api_key: str | None = Field(default=None, sa_type=EncryptedString)
    ca_bundle: str | None = Field(default=None, max_length=100_000)
    #: A client certificate for mutual TLS (PEM; not secret) and its key (secret).
    client_cert: str | None = Field(default=None, max_length=100_000)
    client_key: str | None = Field(default=None, sa_type=EncryptedString)
    timeout_seconds: float = Field(default=10.0)
    rate_limit_per_second: float | None = Field(default=None)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=2000)
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
