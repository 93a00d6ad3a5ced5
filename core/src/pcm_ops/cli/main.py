"""The ``pcm-ops`` command line.

Core commands live in their own modules and are imported only when run, and plugins add
theirs through ``pcm_ops_cli_commands``, declared in the ``pcm_ops.cli`` entry-point group
(:mod:`pcm_ops.cli.plugin_commands`); so ``pcm-ops --help`` imports click and the modules
of those commands (which are cheap by contract), and discovers plugins only when one of
their commands is run, or when a plugin declares nothing. Errors that are the user's to fix
(:class:`pcm_ops.errors.PcmOpsError`) print as one clear message and exit 1.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pcm_ops.__about__ import __version__
from pcm_ops.cli.plugin_commands import DeclaredCommands, declared_commands, wants_help_only
from pcm_ops.errors import PcmOpsError

if TYPE_CHECKING:
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

#: Core commands: name → "module:attribute", imported on use.
CORE_COMMANDS: dict[str, str] = {
    "serve": "pcm_ops.cli.serve:serve",
    "db": "pcm_ops.cli.db:db",
    "plugins": "pcm_ops.cli.plugins:plugins",
    "version": "pcm_ops.cli.main:version",
    "users": "pcm_ops.cli.users:users",
    "tokens": "pcm_ops.cli.tokens:tokens",
    "audit": "pcm_ops.cli.audit:audit",
    "secrets": "pcm_ops.cli.secrets:secrets",
    "jobs": "pcm_ops.cli.jobs:jobs",
    "worker": "pcm_ops.cli.worker:worker",
}


@dataclass
class CliContext:
    """What the root command passes down: how to build settings and discover plugins."""

    config: Path | None = None
    strict: bool | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _registry: PluginRegistry | None = None

    def settings(self, **overrides: Any) -> Settings:
        """Load settings once (CLI options override environment and file)."""
        from pcm_ops.settings import load_settings

        if self._settings is None or overrides:
            merged = {**self.overrides, "strict_plugins": self.strict, **overrides}
            self._settings = load_settings(self.config, **merged)
            self._registry = None
            _DATABASE_IN_USE[:] = [_where(self._settings)]
        return self._settings

    def registry(self) -> PluginRegistry:
        """Discover plugins once, with the current settings."""
        from pcm_ops.discovery import discover

        if self._registry is None:
            self._registry = discover(self.settings())
        return self._registry


class PcmOpsGroup(click.Group):
    """The root group: core commands imported lazily; plugin commands listed from their
    ``pcm_ops.cli`` entry points and checked by discovery when one is run."""

    def _declared_commands(self, ctx: click.Context) -> DeclaredCommands | None:
        if "pcm_ops.declared_commands" not in ctx.meta:
            config = _cli_context(ctx).config
            ctx.meta["pcm_ops.declared_commands"] = declared_commands(config)
        declared: DeclaredCommands | None = ctx.meta["pcm_ops.declared_commands"]
        return declared

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        """The commands the loaded plugins' hooks return (discovers the plugins)."""
        cached: dict[str, click.Command] | None = ctx.meta.get("pcm_ops.plugin_commands")
        if cached is not None:
            return cached
        commands: dict[str, click.Command] = {}
        owners: dict[str, str] = {}
        try:
            registry = _cli_context(ctx).registry()
        except PcmOpsError as exc:
            # Bad settings must not make `--help` or `plugins list` unusable; commands that
            # need the settings report the error themselves.
            logging.getLogger("pcm_ops.cli").debug("plugin commands unavailable: %s", exc)
            ctx.meta["pcm_ops.plugin_commands"] = commands
            return commands
        for record, returned in registry.call_each("pcm_ops_cli_commands"):
            for command in returned:
                name = command.name or ""
                if name in CORE_COMMANDS or name in owners:
                    other = "core" if name in CORE_COMMANDS else f"plugin {owners[name]!r}"
                    registry.fail(
                        record,
                        f"its command {name!r} is already provided by {other}",
                    )
                    continue
                owners[name] = record.id
                commands[name] = command
        ctx.meta["pcm_ops.plugin_commands"] = commands
        return commands

    def _listed_plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        """The plugin commands for ``--help``: the declared ones, and (only when some
        enabled plugin declares none) those discovery finds."""
        declared = self._declared_commands(ctx)
        if declared is None:
            return self._plugin_commands(ctx)
        commands = {
            name: command
            for name, (_plugin_id, command) in declared.commands.items()
            if name not in CORE_COMMANDS
        }
        if declared.undeclared:
            for name, command in self._plugin_commands(ctx).items():
                commands.setdefault(name, command)
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(CORE_COMMANDS) + sorted(self._listed_plugin_commands(ctx))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = CORE_COMMANDS.get(cmd_name)
        if target is not None:
            module_name, attribute = target.split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
        declared = self._declared_commands(ctx)
        if declared is not None and cmd_name in declared.commands:
            return declared.commands[cmd_name][1]
        return self._listed_plugin_commands(ctx).get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name is None or name in CORE_COMMANDS or ctx.resilient_parsing:
            return name, command, rest
        if wants_help_only(rest, ctx.help_option_names):
            # click prints the help while parsing, before any of the plugin's code runs.
            return name, command, rest
        # The command is run: only a plugin that discovery loaded may run it.
        checked = self._plugin_commands(ctx).get(name)
        if checked is None:
            declared = self._declared_commands(ctx)
            owner = declared.commands.get(name, ("", None))[0] if declared else ""
            ctx.fail(_not_loaded(ctx, name, owner))
        return name, checked, rest


@click.group(cls=PcmOpsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PCM_CONFIG",
    help="TOML settings file (default: $PCM_CONFIG).",
)
@click.option(
    "--strict",
    is_flag=True,
    default=None,
    help="Make any plugin failure fatal (also PCM_STRICT_PLUGINS=1).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(__version__, "--version", prog_name="pcm-ops")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, strict: bool | None, verbose: int) -> None:
    """PCM-Ops: plugin-based multi-cloud operations platform."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from pcm_ops.logs import install_redaction

    install_redaction()
    _cli_context(ctx)  # the one made while resolving the command, with these options


@click.command()
def version() -> None:
    """Print the versions of core and of the plugin API."""
    from pcm_ops.__about__ import PLUGIN_API_VERSION

    click.echo(f"pcm-ops-core {__version__} (plugin API {PLUGIN_API_VERSION})")


def _cli_context(ctx: click.Context) -> CliContext:
    """The root's :class:`CliContext`, made from the root's options when a command is
    resolved before the root's callback runs (click resolves first)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext(config=root.params.get("config"), strict=root.params.get("strict"))
    return root.obj


def _not_loaded(ctx: click.Context, name: str, plugin_id: str) -> str:
    """Why the plugin command ``name`` cannot run: its plugin did not load."""
    record = _cli_context(ctx).registry().get(plugin_id) if plugin_id else None
    if record is None:
        return f"No such command {name!r}."
    reason = f": {record.error}" if record.error else ""
    return (
        f"the command {name!r} belongs to plugin {plugin_id!r}, which is "
        f"{record.state.value}{reason} (see `pcm-ops plugins list`)"
    )


#: Where the command's database is, as the last settings loaded say (for error messages).
_DATABASE_IN_USE: list[str] = []


def _where(settings: Settings) -> str:
    """The database of ``settings`` as a person reads it: the SQLite file, or the URL
    without its password."""
    if not settings.database_url:
        return f"the SQLite database {settings.data_dir / 'pcm-ops.db'}"
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return f"the database {url}"


def database_problem(exc: BaseException) -> str | None:
    """A one-line message for a database error a command met (unreachable server, tables
    missing because the database was never upgraded), or ``None`` for any other error. It
    says which database the command used, and how to choose another."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(exc, sqlalchemy_exc.DBAPIError):
        return None
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
    lowered = reason.lower()
    where = (
        f" (used {_DATABASE_IN_USE[0]}; set PCM_DATA_DIR or PCM_DATABASE_URL for another)"
        if _DATABASE_IN_USE
        else ""
    )
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"the database is not up to date ({reason}); run `pcm-ops db upgrade` first{where}"
    return f"database error: {reason}{where}"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning user errors into one clear message."""
    try:
        # With standalone_mode=False click returns a command's ctx.exit(code) value
        # instead of exiting: pass it on.
        exit_code = cli.main(args=argv, prog_name="pcm-ops", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except PcmOpsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        message = database_problem(exc)
        if message is None:
            raise
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)
    else:
        sys.exit(exit_code if isinstance(exit_code, int) else 0)
