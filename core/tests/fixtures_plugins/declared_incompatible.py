"""A plugin written for a plugin API this core does not offer, whose commands are declared
in the ``pcm_ops.cli`` entry-point group."""

from pcm_ops import hookimpl
from pcm_ops.plugin import PluginMetadata

metadata = PluginMetadata(
    id="declared-incompatible",
    display_name="Declared From the Future",
    provider="test",
    tool="declared-incompatible",
    plugin_api=">=2.0,<3",
)


@hookimpl
def pcm_ops_cli_commands():
    from fixtures_plugins.declared_cli import from_the_future

    return [from_the_future]
