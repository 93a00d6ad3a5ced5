"""A plugin that declares its commands in the ``pcm_ops.cli`` entry-point group (they live in
``declared_cli``), so that ``pcm-ops --help`` lists them without importing this module."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="declared",
    display_name="Declared Commands",
    provider="test",
    tool="declared",
    description="A plugin whose commands are declared as an entry point.",
)


@hookimpl
def pcm_ops_cli_commands():
    from fixtures_plugins.declared_cli import declared

    return [declared]
