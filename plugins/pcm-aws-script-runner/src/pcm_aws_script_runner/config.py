"""The plugin's settings: the ``[aws-script-runner]`` table of the config file, or
``PCM_AWS_SCRIPT_RUNNER__<FIELD>`` environment variables."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: SSM's limit on a document's content, which for AWS-RunShellScript and
#: AWS-RunPowerShellScript includes the commands and the parameter values given at run time.
SSM_CONTENT_LIMIT_BYTES = 64 * 1024


class ScriptRunnerSettings(BaseModel):
    """Every field has a default: the plugin works without configuration."""

    model_config = ConfigDict(extra="forbid")

    max_script_bytes: int = Field(
        default=SSM_CONTENT_LIMIT_BYTES,
        ge=1,
        le=SSM_CONTENT_LIMIT_BYTES,
        description="The largest script body accepted, in UTF-8 bytes. SSM refuses more "
        "than 64 KiB; lower it to leave room for parameter values.",
    )
    pre_execution_check_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long one plugin's pre-execution check may take; a slower check "
        "counts as failed and blocks the run.",
    )
    event_hook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long one plugin's aws_sr_execution_events implementation may take; "
        "a slower one is logged and left behind (the run goes on).",
    )
    recheck_at_start: bool = Field(
        default=True,
        description="Ask the pre-execution checks again when a queued run starts: a "
        "change can be cancelled between the request and the start.",
    )
    target_resolution_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="How long a target source may take to resolve a reference.",
    )
    # -- executions ---------------------------------------------------------------------
    max_targets: int = Field(
        default=50_000,
        ge=1,
        le=100_000,
        description="The most instances one execution may target. An execution's memory "
        "and work per poll do not grow with it (results are read and written a batch of 50 "
        "at a time); its start writes every target in one transaction.",
    )
    default_max_concurrency: str = Field(
        default="50",
        pattern=r"^([1-9][0-9]{0,5}|([1-9][0-9]?|100)%)$",
        description="An execution's max concurrency when the request gives none: a number "
        'of instances, or a percentage of its targets ("10%").',
    )
    default_max_errors: str = Field(
        default="0",
        pattern=r"^([0-9]{1,6}|([0-9]{1,2}|100)%)$",
        description="An execution's max errors when the request gives none: a number of "
        "instances, or a percentage of its targets.",
    )
    poll_interval_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How long an execution waits before it first asks SSM for the results "
        "of the batches sent together (one of them, the probe), and between two "
        "polls of a batch whose results are coming in; a batch that stops changing waits "
        "twice as long each time, up to max_poll_interval_seconds.",
    )
    max_poll_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="The longest wait between two polls of a batch; the other batches sent "
        "with a probe that shows no result yet are polled every 4 times this.",
    )
    send_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="How many times a batch's SendCommand may be made when its outcome is "
        "unknown (a 5xx, a timeout, a reset connection, throttling). SendCommand has no "
        "idempotency token: before each new attempt SSM is asked (ListCommands, by the "
        "batch's comment stamp) whether the last one ran, and a command found is adopted.",
    )
    send_retry_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long to wait after a SendCommand with an unknown outcome before "
        "asking SSM about it; doubled for each later attempt.",
    )
    # -- fleet inventory ------------------------------------------------------------------
    inventory_sync_schedule: str = Field(
        default="*/30 * * * *",
        max_length=100,
        description="When the inventory of every account and region is synced: a cron "
        "expression in UTC (five fields, or six with seconds first); an empty string turns "
        "the scheduled sync off (syncs on demand still work).",
    )
    inventory_sync_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="How many account-regions one inventory sync reads from AWS at once.",
    )

    @field_validator("inventory_sync_schedule")
    @classmethod
    def _cron_expression(cls, value: str) -> str:
        from croniter import croniter

        value = value.strip()
        if value and not croniter.is_valid(value, second_at_beginning=True):
            raise ValueError(
                f"{value!r} is not a cron expression: use five fields ('*/30 * * * *': "
                "minute, hour, day of month, month, day of week), six with seconds first, "
                "or '' to turn the scheduled sync off"
            )
        return value
