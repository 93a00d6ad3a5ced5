"""The plugin's settings: the ``[servicenow-cmdb]`` table of the config file, or
``PCM_SERVICENOW_CMDB__<FIELD>`` environment variables."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: A gated tag: a key (no ``=``, at most 128 characters), ``=``, a value (at most 256).
_TAG = re.compile(r"\s*[^=\s][^=\r\n]{0,127}=[^\r\n]{0,256}")
#: An assignment group's name: what an ``IN`` condition can hold as one value (no ``,``,
#: no ``^``, no control characters), at most 100 characters.
_GROUP = re.compile(r"[^,^\x00-\x1f\x7f]{1,100}")


class ChangeGate(BaseModel):
    """Which script-runner runs need a ServiceNow change, and what the change must be."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[str] = Field(
        default_factory=list,
        description="AWS account ids (12 digits) whose instances may only be run on through "
        "a change: a run with a target in one of them needs a change reference.",
    )
    tags: list[str] = Field(
        default_factory=list,
        description="Instance tags as KEY=VALUE (Environment=production): a run with a target "
        "whose inventory tags include one of them needs a change reference. The tags come "
        "from the script runner's fleet inventory.",
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

    @field_validator("tags")
    @classmethod
    def _tag_pairs(cls, values: list[str]) -> list[str]:
        wrong = [value for value in values if not _TAG.fullmatch(value)]
        if wrong:
            named = ", ".join(repr(value) for value in wrong)
            raise ValueError(f"a gated tag is KEY=VALUE (Environment=production), not {named}")
        return [value.strip() for value in values]

    def tag_pairs(self) -> list[tuple[str, str]]:
        """``tags`` as ``(key, value)`` pairs (the value may contain ``=``)."""
        pairs = []
        for text in self.tags:
            key, _, value = text.partition("=")
            pairs.append((key.strip(), value.strip()))
        return pairs


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
    work_notes: bool = Field(
        default=True,
        description="Write a work note to the change when a change-linked run starts and ends.",
    )
    work_note_retry_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How long a work note waits before its first retry when ServiceNow is "
        "down or busy; each further wait doubles, up to work_note_retry_max_seconds.",
    )
    work_note_retry_max_seconds: float = Field(
        default=300.0, gt=0, le=86400, description="The longest wait between two tries."
    )
    work_note_give_up_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 30,
        description="How long a work note keeps being retried before it is given up (logged "
        "as an error with the change and the execution).",
    )
    groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Each PCM-Ops username's ServiceNow assignment groups, by name "
        '(alice = ["Linux Ops", "DBA"]): the change browser\'s "mine" filter shows the '
        "changes assigned to one of the current user's groups.",
    )
    gate: ChangeGate = Field(
        default_factory=ChangeGate,
        description="Change-gated execution: which runs need an approved change in its window.",
    )

    @field_validator("groups")
    @classmethod
    def _group_names(cls, values: dict[str, list[str]]) -> dict[str, list[str]]:
        problems: list[str] = []
        cleaned: dict[str, list[str]] = {}
        for username, names in values.items():
            if not username.strip():
                problems.append("a username is empty")
                continue
            stripped = [name.strip() for name in names]
            wrong = [name for name in stripped if not _GROUP.fullmatch(name)]
            if wrong:
                named = ", ".join(repr(name) for name in wrong)
                problems.append(
                    f"{username}: an assignment group name is 1 to 100 characters without "
                    f"',' or '^' (which would change the query), not {named}"
                )
            cleaned[username.strip()] = list(dict.fromkeys(stripped))
        if problems:
            raise ValueError("; ".join(problems))
        return cleaned
