"""The example plugin's settings: the ``[example]`` table of the config file, or
``PCM_EXAMPLE__<FIELD>`` environment variables."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExampleSettings(BaseModel):
    """Every field has a default, so that the plugin works without configuration."""

    greeting: str = Field(default="Hello", description="How `pcm-ops example hello` greets.")
    max_notes: int = Field(default=1000, ge=1, description="How many notes may exist.")
    digest_concurrency: int = Field(
        default=1, ge=1, description="How many note digests run at once, across processes."
    )
