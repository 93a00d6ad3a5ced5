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

import importlib
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

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


#: Entry points by group: name → value (``"module:attribute"``).
EntryPointValues = dict[str, dict[str, str]]


def read_entry_points(groups: tuple[str, ...]) -> EntryPointValues:
    """The entry points of ``groups`` declared by the installed distributions, read from
    each ``*.dist-info/entry_points.txt`` (and ``*.egg-info``) on ``sys.path``, in the order
    and with the precedence ``importlib.metadata`` gives them (the first distribution of a
    name wins).

    The same answer as ``importlib.metadata.entry_points()``, for about a quarter of
    ``pcm-ops --help``'s time less: importing ``importlib.metadata`` alone costs as much as
    the rest of the listing (it brings email, zipfile, csv...). Where distributions may sit
    in a zip file on ``sys.path``, which this reader does not open, ``importlib.metadata``
    answers instead.
    """
    found: EntryPointValues = {group: {} for group in groups}
    seen: set[str] = set()
    for entry in sys.path:
        try:
            children = sorted(os.listdir(entry or "."))
        except NotADirectoryError:
            return _read_with_importlib(groups)
        except OSError:
            continue
        for child in children:
            if not child.endswith((".dist-info", ".egg-info")):
                continue
            name = child.rsplit(".", 1)[0].split("-", 1)[0]
            normalized = re.sub(r"[-_.]+", "_", name).lower()
            if normalized in seen:
                continue
            seen.add(normalized)
            try:
                text = Path(entry or ".", child, "entry_points.txt").read_text("utf-8")
            except OSError:
                continue
            _parse_entry_points(text, found)
    return found


def _parse_entry_points(text: str, found: EntryPointValues) -> None:
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
        elif group in found:
            name, equals, value = line.partition("=")
            if equals:
                found[group].setdefault(name.strip(), value.strip())


def _read_with_importlib(groups: tuple[str, ...]) -> EntryPointValues:
    from importlib.metadata import entry_points

    found: EntryPointValues = {group: {} for group in groups}
    for group in groups:
        for entry_point in entry_points(group=group):
            found[group].setdefault(entry_point.name, entry_point.value)
    return found


def load_entry_point(value: str) -> Any:
    """The object an entry point's value (``module:attribute.sub [extra]``) names."""
    module_name, _, attribute = value.partition(":")
    target: Any = importlib.import_module(module_name.strip())
    for part in attribute.split("[", 1)[0].strip().split("."):
        if part:
            target = getattr(target, part)
    return target


def installed_plugin_ids(installed: EntryPointValues) -> list[str]:
    """The ids of the installed plugins (the names in ``pcm_ops.plugins``), sorted."""
    return sorted(installed.get(PLUGIN_ENTRY_POINT_GROUP, {}))


def declared_commands(config: Path | None) -> DeclaredCommands | None:
    """The commands of the enabled plugins, from the ``pcm_ops.cli`` entry points; ``None``
    when the plugin selection cannot be read cheaply (then discovery decides)."""
    try:
        allowed, disabled = plugin_selection(config)
    except ValueError as exc:
        logger.debug("plugin selection unreadable without the settings: %s", exc)
        return None
    installed = read_entry_points((PLUGIN_ENTRY_POINT_GROUP, CLI_ENTRY_POINT_GROUP))
    enabled = [
        plugin_id
        for plugin_id in installed_plugin_ids(installed)
        if (allowed is None or plugin_id in allowed) and plugin_id not in disabled
    ]
    declarations = installed[CLI_ENTRY_POINT_GROUP]
    result = DeclaredCommands()
    for plugin_id in enabled:
        declaration = declarations.get(plugin_id)
        if declaration is None:
            result.undeclared.append(plugin_id)
            continue
        try:
            loaded = load_entry_point(declaration)
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
