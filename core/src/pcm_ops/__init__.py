"""PCM-Ops core.

Importing this package is cheap on purpose: it imports nothing, and pluggy only when
:data:`hookimpl` or :data:`hookspec` is first used, so that plugin modules (which import
:data:`hookimpl` from here) stay cheap to discover and ``pcm-ops --help`` does not load pluggy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pcm_ops.__about__ import PLUGIN_API_VERSION, __version__

PROJECT_NAME = "pcm_ops"

if TYPE_CHECKING:
    import pluggy

    #: Marks a function of a plugin as the implementation of a hook (see
    #: :mod:`pcm_ops.hookspecs`).
    hookimpl: pluggy.HookimplMarker

    #: Marks a function as a hook specification. Core uses it in :mod:`pcm_ops.hookspecs`; a
    #: plugin that offers hooks of its own to other plugins uses it too (see
    #: :func:`pcm_ops.hookspecs.pcm_ops_add_hookspecs`).
    hookspec: pluggy.HookspecMarker


def __getattr__(name: str) -> Any:
    # The markers are made on first use (``from pcm_ops import hookimpl``), then kept.
    if name in ("hookimpl", "hookspec"):
        import pluggy

        globals()["hookimpl"] = pluggy.HookimplMarker(PROJECT_NAME)
        globals()["hookspec"] = pluggy.HookspecMarker(PROJECT_NAME)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PLUGIN_API_VERSION", "PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
