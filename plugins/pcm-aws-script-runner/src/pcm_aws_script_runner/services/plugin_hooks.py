"""Calling the script runner's own hooks one implementation at a time.

``plugin_manager.hook.<name>(...)`` would stop at the first exception and could not say
which plugin returned what; the services need both, so they call each implementation
themselves, in plugin-id order (the order core uses for its hooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_ops.registry import PluginRegistry


@dataclass(frozen=True)
class Implementation:
    """One plugin's implementation of a hook."""

    plugin: str
    function: Any
    argnames: tuple[str, ...]

    def call(self, arguments: Mapping[str, Any]) -> Any:
        """Call it with the arguments it asks for (any subset of the spec's, by name)."""
        return self.function(**{name: arguments[name] for name in self.argnames})


def implementations(registry: PluginRegistry, hook_name: str) -> list[Implementation]:
    """The loaded plugins' implementations of ``hook_name``, in plugin-id order."""
    caller = getattr(registry.manager.hook, hook_name, None)
    if caller is None:
        return []
    found = [
        Implementation(impl.plugin_name, impl.function, tuple(impl.argnames))
        for impl in caller.get_hookimpls()
    ]
    return sorted(found, key=lambda implementation: implementation.plugin)
