"""PCM-Ops core.

Importing this package is cheap on purpose: it pulls in pluggy and nothing else, so that
plugin modules (which import :data:`hookimpl` from here) stay cheap to discover.
"""

import pluggy

from pcm_ops.__about__ import PLUGIN_API_VERSION, __version__

PROJECT_NAME = "pcm_ops"

#: Marks a function of a plugin as the implementation of a hook (see :mod:`pcm_ops.hookspecs`).
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: Marks a function as a hook specification. Core uses it in :mod:`pcm_ops.hookspecs`; a
#: plugin that offers hooks of its own to other plugins uses it too (see
#: :func:`pcm_ops.hookspecs.pcm_ops_add_hookspecs`).
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = ["PLUGIN_API_VERSION", "PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
