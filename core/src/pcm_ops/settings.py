"""Core settings: environment variables ``PCM_*`` over an optional TOML file over defaults.

The TOML file (``--config`` or ``PCM_CONFIG``) holds core's keys at the top level and one
table per plugin, named by the plugin id::

    database_url = "postgresql://pcm@db.example.com/pcm"
    plugins = ["aws-common", "aws-script-runner"]

    [aws-common]
    endpoint_url = "http://127.0.0.1:5000"

A plugin's table is validated by the model its ``pcm_ops_settings_model`` hook returns, and
environment variables ``PCM_<PLUGIN_ID>__<FIELD>`` override it
(``PCM_AWS_COMMON__ENDPOINT_URL``). Every problem is reported together, naming its key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pcm_ops.errors import ConfigError

ENV_PREFIX = "PCM_"
CONFIG_ENV = "PCM_CONFIG"

CommaList = Annotated[list[str], NoDecode]

# Settings for which an empty value (``PCM_DATABASE_URL=``, ``database_url = ""``) means
# "not set": a deployment template that passes a variable through unconditionally
# (``PCM_DATABASE_URL=${PCM_DATABASE_URL:-}``) gets the default, or the config file's value,
# rather than an error (database URL, executor id) or the current directory (data dir).
_UNSET_WHEN_EMPTY = ("data_dir", "database_url", "executor_id", "public_url")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pcm-ops"


def normalize_database_url(url: str) -> str:
    """Return ``url`` with an async driver, or raise ``ValueError`` saying what is wrong.

    ``sqlite:///path`` becomes ``sqlite+aiosqlite:///path`` and ``postgresql://...`` becomes
    ``postgresql+psycopg://...`` so that people can paste the URLs they already have.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            f"{url!r} is not a database URL; expected e.g. "
            "'sqlite:///path/to/pcm-ops.db' or 'postgresql://user@host:5432/dbname'"
        ) from None
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name()
    if backend == "sqlite":
        if driver not in ("pysqlite", "aiosqlite"):
            raise ValueError(f"SQLite driver {driver!r} is not supported; use sqlite:///path")
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql":
        if driver not in ("psycopg2", "psycopg", "asyncpg"):
            raise ValueError(f"PostgreSQL driver {driver!r} is not supported; use postgresql://")
        parsed = parsed.set(drivername="postgresql+psycopg")
        if not parsed.database:
            raise ValueError("the PostgreSQL URL names no database (…/dbname at the end)")
    else:
        raise ValueError(f"database {backend!r} is not supported; use SQLite or PostgreSQL")
    return parsed.render_as_string(hide_password=False)


class Settings(BaseSettings):
    """Core's settings. Each field is ``PCM_<FIELD>`` in the environment, ``<field>`` in TOML."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite database, the secret key file and other local state live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; default: SQLite in the data directory.",
    )
    plugins: CommaList | None = Field(
        default=None,
        description="Allow-list of plugin ids to load (comma-separated in the environment); "
        "default: every installed plugin.",
    )
    disabled_plugins: CommaList = Field(
        default_factory=list, description="Plugin ids not to load, even if installed."
    )
    strict_plugins: bool = Field(
        default=False, description="Make any plugin failure fatal at start-up (for CI)."
    )
    host: str = Field(default="127.0.0.1", description="Address `pcm-ops serve` binds.")
    port: int = Field(default=8500, ge=1, le=65535, description="Port `pcm-ops serve` binds.")
    public_url: str | None = Field(
        default=None,
        description="The address operators reach this installation at "
        "(`https://pcm.example.com`), for links written outside it (a ServiceNow work note); "
        "default: `http://<host>:<port>`.",
    )
    migrate_on_start: bool = Field(
        default=False,
        description="Apply pending migrations and seeds when the server starts, under a lock.",
    )
    demo: bool = Field(default=False, description="Demo mode: demo data, loopback only.")
    log_level: str = Field(default="info", description="Log level of the pcm_ops loggers.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: `pcm-ops serve` and `pcm-ops worker` write one JSON object per "
        "log line (time, level, logger, message, request id, user, plugin, execution id, "
        "job id); `text`: lines for people.",
    )
    public_paths: CommaList = Field(
        default_factory=lambda: ["/healthz", "/readyz", "/metrics"],
        description="Paths served without authentication (besides login and static files).",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A browser session ends after this idle time."
    )
    session_max_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="A browser session ends this long after login."
    )
    hsts: bool = Field(
        default=False,
        description="Send Strict-Transport-Security on HTTPS responses (enable behind TLS).",
    )
    cors_origins: CommaList = Field(
        default_factory=list, description="Origins allowed by CORS; empty: CORS off."
    )
    login_max_failures_per_account: int = Field(
        default=5, ge=1, description="Failed logins allowed per account in the window."
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins allowed per client address in the window."
    )
    login_failure_window_minutes: int = Field(
        default=15, ge=1, description="The throttling window for failed logins."
    )
    executor_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$",
        description="Stable id of this process as a durable-job executor; default "
        "`server@<host name>` for `pcm-ops serve`, `worker@<host name>` for `pcm-ops worker`.",
    )
    tune_gc: bool = Field(
        default=True,
        description="Once started, leave the start-up's objects out of Python's garbage "
        "collections and collect young objects every 10,000 allocations instead of 700 "
        "(`pcm_ops.memory`): a quarter of the collector's time in large executions.",
    )
    jobs_execute_in_server: bool = Field(
        default=True,
        description="Run durable jobs inside `pcm-ops serve`; turn off when `pcm-ops worker` "
        "processes do the work.",
    )
    jobs_heartbeat_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="How often a job executor records that it lives."
    )
    jobs_queue_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often an executor looks for queued jobs."
    )
    jobs_start_on_enqueue: bool = Field(
        default=True,
        description="A job starts as soon as it is enqueued (here or in another process), "
        "not at its queue's next poll (queues whose only limit is worker_concurrency).",
    )
    jobs_retention_days: float = Field(
        default=14.0, gt=0, description="Finished jobs and their events are deleted after this."
    )
    metrics_refresh_seconds: float = Field(
        default=1.0,
        ge=0,
        le=300,
        description="How long /metrics answers with the gauges it read from the database "
        "before reading them again (0: on every scrape).",
    )
    jobs_event_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often the server looks for events published by other processes, "
        "as a safety net under the wake-ups (SQLite: a loopback datagram from the publisher; "
        "PostgreSQL: LISTEN/NOTIFY).",
    )
    jobs_sse_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Idle time after which an event stream sends a keep-alive comment.",
    )
    plugin_sections: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        exclude=True,
        description="Raw per-plugin tables from the config file, validated at discovery.",
    )
    config_file: Path | None = Field(default=None, description="The TOML file read, if any.")

    @field_validator("plugins", "disabled_plugins", "public_paths", "cors_origins", mode="before")
    @classmethod
    def _split_comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(*_UNSET_WHEN_EMPTY, mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            field = cls.model_fields[info.field_name or ""]
            return field.get_default(call_default_factory=True)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        return None if value is None else normalize_database_url(value)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an http:// or https:// address, such as https://pcm.example.com"
            )
        if parts.query or parts.fragment:
            raise ValueError("must have no query string or fragment")
        return value.strip().rstrip("/")

    def link(self, path: str) -> str:
        """The absolute address of ``path`` (``/tools/...``) in this installation, from
        ``public_url`` or else ``http://<host>:<port>``: for links written outside PCM-Ops."""
        base = self.public_url or f"http://{self.host}:{self.port}"
        return base + "/" + path.lstrip("/")

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        levels = ("critical", "error", "warning", "info", "debug")
        if value.lower() not in levels:
            raise ValueError(f"must be one of {', '.join(levels)}")
        return value.lower()

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: ``database_url`` or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'pcm-ops.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


class _FileSource(InitSettingsSource):
    """The TOML file's core keys, ranked below the environment."""


class _EnvironmentSource(EnvSettingsSource):
    """``PCM_*`` variables, leaving out the empty ones of ``_UNSET_WHEN_EMPTY``, so that the
    config file's value (or the default) applies as if the variable were not there."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        for name in _UNSET_WHEN_EMPTY:
            value = values.get(name)
            if isinstance(value, str) and not value.strip():
                del values[name]
        return values


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([("config", f"file {path} does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([("config", f"{path} is not valid TOML: {exc}")]) from None


def _format_location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from ``overrides``, ``PCM_*`` variables and the TOML file.

    :param config_file: a TOML file; default ``$PCM_CONFIG`` if set.
    :param overrides: values that win over everything (the CLI's options); ``None`` values
        are ignored.
    :raises ConfigError: listing every invalid key at once.
    """
    overrides = {key: value for key, value in overrides.items() if value is not None}
    path_text = config_file or os.environ.get(CONFIG_ENV)
    file_values: dict[str, Any] = {}
    plugin_sections: dict[str, dict[str, Any]] = {}
    problems: list[tuple[str, str]] = []
    if path_text:
        path = Path(path_text).expanduser()
        core_fields = set(Settings.model_fields) - {"plugin_sections", "config_file"}
        for key, value in _read_toml(path).items():
            if key in core_fields:
                file_values[key] = value
            elif isinstance(value, dict):
                plugin_sections[key] = value
            else:
                problems.append((key, f"unknown setting in {path}"))
        overrides.setdefault("config_file", path)

    class _Layered(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                init_settings,
                _EnvironmentSource(settings_cls),
                _FileSource(settings_cls, file_values),
            )

    # Plugin sections given as an override (a test, a caller) win over the file's, by plugin.
    plugin_sections.update(overrides.pop("plugin_sections", None) or {})
    try:
        layered = _Layered(**overrides, plugin_sections=plugin_sections)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            key = _format_location(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append((key, message))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return layered


def plugin_env_prefix(plugin_id: str) -> str:
    """``aws-common`` → ``PCM_AWS_COMMON__``: the prefix of a plugin's environment variables."""
    return f"{ENV_PREFIX}{plugin_id.upper().replace('-', '_')}__"


def plugin_section(settings: Settings, plugin_id: str) -> dict[str, Any]:
    """A plugin's raw settings: its TOML table overlaid with its environment variables."""
    values = dict(settings.plugin_sections.get(plugin_id, {}))
    prefix = plugin_env_prefix(plugin_id)
    for name, value in os.environ.items():
        if name.startswith(prefix):
            values[name[len(prefix) :].lower()] = value
    return values
