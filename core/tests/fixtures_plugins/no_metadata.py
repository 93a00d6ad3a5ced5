"""A plugin that forgot to declare its metadata."""

from pcm_ops import hookimpl


@hookimpl
def pcm_ops_permissions():
    return []
