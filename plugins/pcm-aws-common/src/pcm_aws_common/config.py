"""The plugin's settings: the ``[aws-common]`` table of the config file, or
``PCM_AWS_COMMON__<FIELD>`` environment variables.

Every field has a default, so the plugin works without configuration against real AWS.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _check_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


class AwsCommonSettings(BaseModel):
    """How the client factory reaches AWS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(
        default=None,
        description="Send every AWS request here instead of the public endpoints (moto in "
        "tests, a proxy).",
    )
    endpoint_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Per-service endpoints, e.g. VPC interface endpoints: "
        '{ssm = "https://vpce-...ssm..."}; in the environment `ssm=https://...,sts=...`. '
        "Wins over endpoint_url.",
    )
    max_attempts: int = Field(
        default=8, ge=1, le=20, description="Attempts per call, in botocore's adaptive retry mode."
    )
    max_pool_connections: int = Field(
        default=20, ge=1, le=1000, description="HTTP connections each client keeps open."
    )
    connect_timeout: float = Field(default=5.0, gt=0, le=120, description="Seconds.")
    read_timeout: float = Field(default=30.0, gt=0, le=900, description="Seconds.")
    concurrency_per_account_region: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="AWS calls in flight at once per account and region, shared by every "
        "caller in the process.",
    )
    refresh_advisory_seconds: int = Field(
        default=900,
        ge=0,
        description="Assumed-role credentials are refreshed when they expire in less than "
        "this (a failed refresh keeps the old ones).",
    )
    refresh_mandatory_seconds: int = Field(
        default=600,
        ge=0,
        description="...and must be refreshed when they expire in less than this.",
    )
    health_cache_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How long the readiness check reuses the identity checks of the shared "
        "credential sources.",
    )
    account_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long the client factory reuses an account's registry entry.",
    )
    role_session_prefix: str = Field(
        default="pcm-ops",
        pattern=r"^[\w+=,.@-]{1,32}$",
        description="RoleSessionName is `<prefix>-<PCM-Ops user>`.",
    )
    set_source_identity: bool = Field(
        default=False,
        description="Also send the PCM-Ops user as SourceIdentity (the roles' trust "
        "policies must allow sts:SetSourceIdentity).",
    )
    organizations_page_size: int = Field(
        default=20, ge=1, le=20, description="Accounts per ListAccounts page."
    )
    max_cached_clients: int = Field(
        default=256, ge=1, description="Open clients kept for reuse; the idle oldest close first."
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        return None if not value else _check_url(value)

    @field_validator("endpoint_urls", mode="before")
    @classmethod
    def _parse_endpoint_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = [item.strip() for item in value.split(",") if item.strip()]
            parsed = {}
            for pair in pairs:
                service, separator, url = pair.partition("=")
                if not separator:
                    raise ValueError(f"{pair!r} is not service=url")
                parsed[service.strip()] = url.strip()
            return parsed
        return value

    @field_validator("endpoint_urls")
    @classmethod
    def _endpoint_urls(cls, value: dict[str, str]) -> dict[str, str]:
        return {service: _check_url(url) for service, url in value.items()}

    @model_validator(mode="after")
    def _refresh_windows(self) -> AwsCommonSettings:
        if self.refresh_mandatory_seconds > self.refresh_advisory_seconds:
            raise ValueError("refresh_mandatory_seconds must not exceed refresh_advisory_seconds")
        return self

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint URL to use for ``service``, or ``None`` for AWS's own."""
        return self.endpoint_urls.get(service) or self.endpoint_url
