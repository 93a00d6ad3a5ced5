"""The plugin's settings: the ``[servicenow-cmdb]`` table of the config file, or
``PCM_SERVICENOW_CMDB__<FIELD>`` environment variables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
