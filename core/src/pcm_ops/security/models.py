"""Core's security tables: users, API tokens, browser sessions, audit events, login failures,
and the secret key's check value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from pcm_ops.db.types import UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "pcm_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=20)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "pcm_api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="pcm_user.id", index=True)
    name: str = Field(max_length=100)
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    #: The first characters of the token, to tell tokens apart in lists.
    prefix: str = Field(max_length=16)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    __tablename__ = "pcm_session"

    id: int | None = Field(default=None, primary_key=True)
    #: SHA-256 of the opaque id in the cookie.
    session_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="pcm_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    client_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=255)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "pcm_audit_event"
    __table_args__ = (Index("ix_pcm_audit_event_action_at", "action", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=200, index=True)
    user_id: int | None = Field(default=None)
    token_id: int | None = Field(default=None)
    action: str = Field(max_length=100)
    object_type: str | None = Field(default=None, max_length=100)
    object_id: str | None = Field(default=None, max_length=200)
    client_address: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=20)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LoginFailure(SQLModel, table=True):
    """One failed login, kept for the throttling window; keyed by account and by address."""

    __tablename__ = "pcm_login_failure"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150, index=True)
    client_address: str = Field(max_length=64, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class SecretKeyCheck(SQLModel, table=True):
    """The key check value: proof of which key encrypts this database's secrets.

    One row (``id`` 1), written by the first process that starts on a database and
    re-encrypted by ``pcm-ops secrets rotate``. A process whose keys cannot decrypt
    ``check_value`` refuses to start (:func:`pcm_ops.security.secrets.verify_key`).
    """

    __tablename__ = "pcm_secret_key_check"

    id: int = Field(primary_key=True)
    #: A known text encrypted with the installation's key (Fernet token, ``fernet:`` prefix).
    check_value: str = Field(sa_type=Text)
    #: :func:`pcm_ops.security.secrets.key_fingerprint` of the key that encrypted it: names
    #: the key in error messages without revealing it.
    key_fingerprint: str = Field(max_length=16)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
