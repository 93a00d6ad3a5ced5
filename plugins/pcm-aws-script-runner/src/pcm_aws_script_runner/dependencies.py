"""FastAPI dependencies shared by the plugin's API and pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pcm_aws_script_runner.config import ScriptRunnerSettings
from pcm_aws_script_runner.ids import PLUGIN_ID
from pcm_ops.registry import PluginRegistry


def plugin_config(request: Request) -> ScriptRunnerSettings:
    """This plugin's validated settings (defaults when it has no settings section)."""
    registry: PluginRegistry = request.app.state.registry
    record = registry.get(PLUGIN_ID)
    config = record.config if record is not None else None
    return config if isinstance(config, ScriptRunnerSettings) else ScriptRunnerSettings()


def plugin_registry(request: Request) -> PluginRegistry:
    """The application's plugin registry, for calling this plugin's own hooks."""
    registry: PluginRegistry = request.app.state.registry
    return registry


#: ``config: Config`` in a route's parameters gives it the plugin's settings.
Config = Annotated[ScriptRunnerSettings, Depends(plugin_config)]
#: ``registry: Registry`` gives it the plugin registry.
Registry = Annotated[PluginRegistry, Depends(plugin_registry)]
