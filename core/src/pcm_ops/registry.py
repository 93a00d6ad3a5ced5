"""The plugins core knows about, their states, and calling their hooks one plugin at a time.

Core calls each plugin's implementation of a hook itself, rather than through
``plugin_manager.hook.<name>(...)``, so that it knows which plugin returned what and can
fail that plugin alone. Of pluggy's ``@hookimpl`` options it honours ``tryfirst`` and
``trylast`` (see :meth:`PluginRegistry.implementations`); discovery refuses ``wrapper`` and
``hookwrapper``, which only pluggy's own call loop could run.
"""

from __future__ import annotations

import enum
import inspect
import logging
from collections.abc import Callable, Iterator
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


@dataclass(frozen=True, eq=False)
class HookImplementation:
    """One loaded plugin's implementation of one hook, as core calls it.

    Attributes:
        plugin: the implementing plugin's record (``plugin.id``, ``plugin.config``...).
        hook_name: the hook it implements.
        function: the implementing function.
        argnames: the arguments it asks for, a subset of the spec's, in its own order.
        tryfirst: marked ``@hookimpl(tryfirst=True)``: called before the unmarked ones.
        trylast: marked ``@hookimpl(trylast=True)``: called after the unmarked ones.
    """

    plugin: PluginRecord
    hook_name: str
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    tryfirst: bool = False
    trylast: bool = False

    @property
    def rank(self) -> int:
        """0 for ``tryfirst``, 1 for unmarked, 2 for ``trylast``: the group it is called in."""
        return 0 if self.tryfirst else 2 if self.trylast else 1

    def call(self, /, **arguments: Any) -> Any:
        """Call the function with the arguments it asks for, taken by name from
        ``arguments``; ``config`` is the plugin's own settings unless given.

        :raises TypeError: it asks for an argument that is not given (naming both).
        """
        available = {"config": self.plugin.config, **arguments}
        missing = [name for name in self.argnames if name not in available]
        if missing:
            raise TypeError(
                f"plugin {self.plugin.id!r}: hook {self.hook_name} asks for "
                f"{', '.join(map(repr, missing))}, which the caller did not give"
            )
        # Positionally, in the function's own order, as pluggy calls implementations.
        return self.function(*(available[name] for name in self.argnames))


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

    def implementations(self, hook_name: str) -> list[HookImplementation]:
        """The loaded plugins' implementations of ``hook_name``, in the order core calls them.

        That order is: implementations marked ``@hookimpl(tryfirst=True)``, then unmarked
        ones, then those marked ``trylast=True``; by plugin id within each group. A plugin
        that calls a hook of its own one implementation at a time uses this, so that it
        keeps the order core uses for its hooks. Empty for a hook nobody specifies.
        """
        caller = getattr(self.manager.hook, hook_name, None)
        if caller is None:
            return []
        loaded = {id(record.module): record for record in self.loaded()}
        found = [
            HookImplementation(
                plugin=loaded[id(impl.plugin)],
                hook_name=hook_name,
                function=impl.function,
                argnames=tuple(impl.argnames),
                tryfirst=impl.tryfirst,
                trylast=impl.trylast,
            )
            for impl in caller.get_hookimpls()
            if id(impl.plugin) in loaded
        ]
        return sorted(found, key=lambda each: (each.rank, each.plugin.id))

    def implementers(self, hook_name: str) -> list[PluginRecord]:
        """The loaded plugins that implement ``hook_name``, in the order core calls them
        (see :meth:`implementations`)."""
        records: list[PluginRecord] = []
        for implementation in self.implementations(hook_name):
            if implementation.plugin not in records:
                records.append(implementation.plugin)
        return records

    def call_each(
        self, hook_name: str, /, *, isolate: bool = True, **kwargs: Any
    ) -> list[tuple[PluginRecord, Any]]:
        """Call ``hook_name`` on each loaded plugin in order; return ``(record, result)`` pairs.

        The order is :meth:`implementations`'. ``config`` is filled in per plugin. With
        ``isolate`` an exception marks that plugin failed (naming the hook and the error)
        and the call goes on with the next plugin. ``None`` results are left out.
        """
        results: list[tuple[PluginRecord, Any]] = []
        for implementation in self.implementations(hook_name):
            record = implementation.plugin
            if not record.loaded:  # failed by an earlier implementation of this call
                continue
            try:
                result = implementation.call(**kwargs)
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
        """Await ``hook_name`` on each loaded plugin (startup/shutdown), isolating failures.

        The order is :meth:`implementations`', or the reverse of it with ``reverse``
        (shutdown: the plugin started last stops first).
        """
        implementations = self.implementations(hook_name)
        for implementation in reversed(implementations) if reverse else implementations:
            record = implementation.plugin
            if not record.loaded:
                continue
            try:
                outcome = implementation.call(**kwargs)
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
