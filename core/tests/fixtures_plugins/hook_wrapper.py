"""A plugin that marks implementations as pluggy wrappers, which core refuses."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(
    id="hook-wrapper", display_name="Hook Wrapper", provider="test", tool="hook-wrapper"
)


@hookimpl(wrapper=True)
def pcm_ops_permissions():
    permissions = yield
    return [*permissions, Permission("hook-wrapper:read", "Read")]


@hookimpl(hookwrapper=True)
def pcm_ops_startup(app):
    yield
