"""The plugin's settings: the ``[servicenow-cmdb]`` table of the config file, or
``PCM_SERVICENOW_CMDB__<FIELD>`` environment variables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChangeGate(BaseModel):
    """Which script-runner runs need a ServiceNow change, and what the change must be."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[str] = Field(
        default_factory=list,
        description="AWS account ids (12 digits) whose instances may only be run on through "
        "a change: a run with a target in one of them needs a change reference.",
    )
    connection: str | None = Field(
        default=None, description="The connection to ask; default: the only one configured."
    )
    states: list[str] = Field(
        default_factory=lambda: ["-1"],
        description="The change states a gated run may start in (-1: Implement).",
    )
    require_approval: bool = Field(
        default=True, description="The change must be approved (approval = approved)."
    )
    standard_changes_preapproved: bool = Field(
        default=True,
        description="Standard changes count as approved (they are pre-approved in ServiceNow).",
    )

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, values: list[str]) -> list[str]:
        wrong = [value for value in values if not (len(value) == 12 and value.isdigit())]
        if wrong:
            raise ValueError(f"not 12-digit AWS account ids: {', '.join(wrong)}")
        return values


class ServiceNowSettings(BaseModel):
    """Every field has a default: the plugin works without configuration."""

    model_config = ConfigDict(extra="forbid")

    cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long answers about changes and CIs are reused, so that browsing is "
        "fast and polite to ServiceNow; 0 turns the cache off. A refresh bypasses it.",
    )
    default_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="A new connection's request timeout."
    )
    gate: ChangeGate = Field(
        default_factory=ChangeGate,
        description="Change-gated execution: which runs need an approved change in its window.",
    )
