"""What the target sources API (``/target-sources``) accepts and returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TargetSourceOut(BaseModel):
    name: str
    display_name: str
    description: str
    plugin: str = Field(description="The plugin that supplies it.")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(description="What the source resolves: a change number, a group...")


class ResolvedTargetOut(BaseModel):
    instance_id: str
    account_id: str
    region: str
    label: str
