"""The plugins core knows about, their states, and calling their hooks one plugin at a time."""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy

from pcm_ops import PROJECT_NAME
from pcm_ops.errors import PluginError
from pcm_ops.plugin import PluginMetadata

logger = logging.getLogger("pcm_ops.plugins")


class PluginState(enum.StrEnum):
    LOADED = "loaded"
    DISABLED = "disabled"
    FAILED = "failed"
    INCOMPATIBLE = "incompatible"


@dataclass
class PluginRecord:
    """What core knows about one installed plugin, whatever its state."""

    id: str
    entry_point: str
    distribution: str | None = None
    version: str | None = None
    state: PluginState = PluginState.DISABLED
    error: str | None = None
    metadata: PluginMetadata | None = None
    module: Any = None
    config: Any = None
    discovery_seconds: float = 0.0
    routes: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self.state is PluginState.LOADED


class PluginRegistry:
    """Every installed plugin in id order, with the pluggy manager holding the loaded ones.

    ``strict`` makes :meth:`fail` raise instead of recording the failure.
    """

    def __init__(self, records: list[PluginRecord], strict: bool = False) -> None:
        self.records = sorted(records, key=lambda record: record.id)
        self.strict = strict
        self.manager = pluggy.PluginManager(PROJECT_NAME)
        from pcm_ops import hookspecs

        self.manager.add_hookspecs(hookspecs)

    # -- lookup -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[PluginRecord]:
        return iter(self.records)

    def get(self, plugin_id: str) -> PluginRecord | None:
        return next((record for record in self.records if record.id == plugin_id), None)

    def loaded(self) -> list[PluginRecord]:
        return [record for record in self.records if record.loaded]

    @property
    def problems(self) -> list[PluginRecord]:
        """Plugins that should have loaded but did not (failed or incompatible)."""
        failing = (PluginState.FAILED, PluginState.INCOMPATIBLE)
        return [record for record in self.records if record.state in failing]

    # -- state changes ----------------------------------------------------------------------

    def fail(
        self, record: PluginRecord, error: str, state: PluginState = PluginState.FAILED
    ) -> None:
        """Mark a plugin failed and unload it; in strict mode raise :class:`PluginError`."""
        message = f"plugin {record.id!r}: {error}"
        if self.strict:
            raise PluginError(f"{message} (strict mode: any plugin failure is fatal)")
        logger.error("%s; the plugin is skipped and the others keep working", message)
        record.state = state
        record.error = error
        if record.module is not None and self.manager.is_registered(record.module):
            self.manager.unregister(record.module)

    # -- calling hooks ----------------------------------------------------------------------

    def implementers(self, hook_name: str) -> list[PluginRecord]:
        """The loaded plugins that implement ``hook_name``, in call order (by id)."""
        caller = getattr(self.manager.hook, hook_name, None)
        if caller is None:
            return []
        implementing = {id(impl.plugin) for impl in caller.get_hookimpls()}
        return [record for record in self.loaded() if id(record.module) in implementing]

    def _implementation(self, record: PluginRecord, hook_name: str) -> Any:
        caller = getattr(self.manager.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.plugin is record.module:
                return impl
        raise LookupError(hook_name)

    def call_each(
        self, hook_name: str, /, *, isolate: bool = True, **kwargs: Any
    ) -> list[tuple[PluginRecord, Any]]:
        """Call ``hook_name`` on each loaded plugin in order; return ``(record, result)`` pairs.

        ``config`` is filled in per plugin. With ``isolate`` an exception marks that plugin
        failed (naming the hook and the error) and the call goes on with the next plugin.
        ``None`` results are left out.
        """
        results: list[tuple[PluginRecord, Any]] = []
        for record in self.implementers(hook_name):
            impl = self._implementation(record, hook_name)
            arguments = {**kwargs, "config": record.config}
            try:
                result = impl.function(*(arguments[name] for name in impl.argnames))
            except Exception as exc:
                if not isolate:
                    raise
                self.fail(record, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                continue
            if result is not None:
                results.append((record, result))
        return results

    async def call_each_async(
        self, hook_name: str, /, *, reverse: bool = False, **kwargs: Any
    ) -> None:
        """Await ``hook_name`` on each loaded plugin (startup/shutdown), isolating failures."""
        records = self.implementers(hook_name)
        for record in reversed(records) if reverse else records:
            impl = self._implementation(record, hook_name)
            arguments = {**kwargs, "config": record.config}
            try:
                outcome = impl.function(*(arguments[name] for name in impl.argnames))
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as exc:
                if reverse:  # shutdown: log and go on; the plugin is going away anyway
                    logger.exception("plugin %r: hook %s raised", record.id, hook_name)
                    continue
                self.fail(record, f"hook {hook_name} raised {type(exc).__name__}: {exc}")

    # -- introspection ----------------------------------------------------------------------

    def hooks_of(self, record: PluginRecord) -> list[str]:
        """The names of the hooks a loaded plugin implements, sorted."""
        if record.module is None or not self.manager.is_registered(record.module):
            return []
        return sorted(caller.name for caller in self.manager.get_hookcallers(record.module) or [])

    def call_order(self) -> dict[str, list[str]]:
        """For every hook at least one plugin implements: plugin ids in call order."""
        order: dict[str, list[str]] = {}
        for name in sorted(vars(self.manager.hook)):
            if name.startswith("_"):
                continue
            callers = [record.id for record in self.implementers(name)]
            if callers:
                order[name] = callers
        return order
