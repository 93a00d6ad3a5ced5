"""The plugins' commands as ``pcm-ops --help`` lists them, read without discovering plugins.

A plugin declares its commands in the ``pcm_ops.cli`` entry-point group, under its plugin
id, naming the object its ``pcm_ops_cli_commands`` hook returns (a click command, or a list
of them)::

    [project.entry-points."pcm_ops.cli"]
    aws-common = "pcm_aws_common.cli:aws"

Listing those costs the import of the named modules (click and little else, by contract)
and a read of ``plugins`` / ``disabled_plugins`` from the environment and the TOML file
with the standard library: no settings model, no pluggy, no plugin module. Discovery, which
checks each plugin, happens when a plugin's command is run. A plugin that declares nothing
(written before the group existed) is found by discovery, as it always was.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

if TYPE_CHECKING:
    from importlib.metadata import EntryPoints

#: The entry-point group naming each plugin's commands (name: the plugin id).
CLI_ENTRY_POINT_GROUP = "pcm_ops.cli"
#: The group that names plugins (the same as ``pcm_ops.discovery.ENTRY_POINT_GROUP``).
PLUGIN_ENTRY_POINT_GROUP = "pcm_ops.plugins"

logger = logging.getLogger("pcm_ops.cli")


@dataclass
class DeclaredCommands:
    """The commands the enabled plugins declare, and the plugins that declare none."""

    #: command name → (plugin id, command)
    commands: dict[str, tuple[str, click.Command]] = field(default_factory=dict)
    #: enabled plugins whose commands only discovery can tell (nothing declared, or the
    #: declaration did not load)
    undeclared: list[str] = field(default_factory=list)


def _comma_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(f"not a list of plugin ids: {value!r}")


def plugin_selection(config: Path | None) -> tuple[list[str] | None, list[str]]:
    """``plugins`` and ``disabled_plugins`` as the settings would have them (environment
    over the TOML file), read with the standard library only.

    :raises ValueError: when the file or a value cannot be read; the caller falls back to
        the settings, which report the problem properly.
    """
    path_text = config or os.environ.get("PCM_CONFIG")
    file_values: dict[str, Any] = {}
    if path_text:
        import tomllib

        try:
            with Path(path_text).expanduser().open("rb") as handle:
                file_values = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"config file {path_text}: {exc}") from exc
    allowed = _comma_list(os.environ.get("PCM_PLUGINS", file_values.get("plugins")))
    disabled = _comma_list(
        os.environ.get("PCM_DISABLED_PLUGINS", file_values.get("disabled_plugins"))
    )
    return allowed, disabled or []


class _EntryPointGroups(Protocol):
    """What ``importlib.metadata.entry_points()`` returns (``SelectableGroups`` on 3.11)."""

    def select(self, *, group: str) -> EntryPoints: ...


def installed_plugin_ids(installed: _EntryPointGroups) -> list[str]:
    """The ids of the installed plugins (the names in ``pcm_ops.plugins``), sorted."""
    return sorted({ep.name for ep in installed.select(group=PLUGIN_ENTRY_POINT_GROUP)})


def declared_commands(config: Path | None) -> DeclaredCommands | None:
    """The commands of the enabled plugins, from the ``pcm_ops.cli`` entry points; ``None``
    when the plugin selection cannot be read cheaply (then discovery decides)."""
    from importlib.metadata import entry_points

    try:
        allowed, disabled = plugin_selection(config)
    except ValueError as exc:
        logger.debug("plugin selection unreadable without the settings: %s", exc)
        return None
    installed = entry_points()  # one scan of the distributions for both groups
    enabled = [
        plugin_id
        for plugin_id in installed_plugin_ids(installed)
        if (allowed is None or plugin_id in allowed) and plugin_id not in disabled
    ]
    declarations = {ep.name: ep for ep in installed.select(group=CLI_ENTRY_POINT_GROUP)}
    result = DeclaredCommands()
    for plugin_id in enabled:
        declaration = declarations.get(plugin_id)
        if declaration is None:
            result.undeclared.append(plugin_id)
            continue
        try:
            loaded = declaration.load()
        except Exception as exc:  # a broken plugin: discovery will say what is wrong
            logger.debug("commands of plugin %r did not load: %s", plugin_id, exc)
            result.undeclared.append(plugin_id)
            continue
        commands = loaded if isinstance(loaded, list | tuple) else [loaded]
        for command in commands:
            if isinstance(command, click.Command) and command.name:
                result.commands.setdefault(command.name, (plugin_id, command))
    return result


def wants_help_only(args: list[str], help_options: list[str]) -> bool:
    """Whether ``args`` (what follows a command's name) ask for help somewhere, so that
    click prints it before any plugin code runs."""
    for arg in args:
        if arg == "--":
            return False
        if arg in help_options:
            return True
    return False
