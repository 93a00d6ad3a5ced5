"""The hook specs that the ``greeter`` plugin adds for other plugins."""

from pcm_ops import hookspec


@hookspec
def greeter_names(greeting):
    """Return a greeting for the names a plugin knows."""
