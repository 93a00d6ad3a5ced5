"""What a hook implementation may need beyond its arguments: :class:`PluginContext`.

Hooks that are called while the platform runs (on requests, in jobs, in CLI commands) may
need the database, the settings or the plugin's own configuration. Core does not make
plugins stash ``app.state`` at start-up or build a ``Database`` of their own (which would
miss ``pcm-ops --config FILE``): a hook that declares a ``context`` argument gets a
:class:`PluginContext` for the implementing plugin, built the same way in the server, in
workers and in the CLI::

    @hookimpl(optionalhook=True)
    async def aws_sr_pre_execution_checks(execution_request, context):
        async with context.session() as session:
            policy = await load_policy(session)
        if context.config.require_change and not execution_request.change_reference:
            return CheckResult(False, "name a change for this run")
        return None

A plugin that calls other plugins' hooks itself (as the script runner does) makes the
contexts with :meth:`~pcm_ops.context.PluginContext.of`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import Request
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_ops.db.engine import Database
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

__all__ = ["ContextFactory", "PluginContext"]


@dataclass(frozen=True)
class PluginContext:
    """The platform as one plugin's hook implementation sees it.

    Attributes:
        plugin_id: the implementing plugin's id.
        config: its validated settings (an instance of the model its
            ``pcm_ops_settings_model`` returns), or ``None`` when it has none.
        settings: core's settings of this process (``pcm-ops --config FILE`` included).
        registry: every installed plugin and its state.
        database: the process's database; prefer :meth:`~pcm_ops.context.PluginContext.session`.
    """

    plugin_id: str
    config: Any
    settings: Settings
    registry: PluginRegistry
    database: Database

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A database session of its own: committed when the block ends normally, rolled
        back when it raises. It is not the caller's session: what it writes is committed
        whatever the request does afterwards."""
        async with self.database.session() as session:
            yield session

    @classmethod
    def of(
        cls,
        plugin_id: str,
        *,
        settings: Settings,
        registry: PluginRegistry,
        database: Database,
    ) -> PluginContext:
        """The context of ``plugin_id`` (its config from the registry)."""
        record = registry.get(plugin_id)
        config = record.config if record is not None else None
        return cls(plugin_id, config, settings, registry, database)

    @classmethod
    def factory(
        cls, *, settings: Settings, registry: PluginRegistry, database: Database
    ) -> ContextFactory:
        """A function giving each plugin's context, for code that calls implementations
        one plugin at a time (a CLI command: ``database`` from
        :func:`pcm_ops.cli.session.run_with_database`)."""

        def make(plugin_id: str) -> PluginContext:
            return cls.of(plugin_id, settings=settings, registry=registry, database=database)

        return make

    @classmethod
    def request_factory(cls, request: Request) -> ContextFactory:
        """:meth:`~pcm_ops.context.PluginContext.factory` for the web application serving
        ``request``."""
        state = request.app.state
        return cls.factory(
            settings=state.settings, registry=state.registry, database=state.database
        )


#: ``contexts(plugin_id) -> PluginContext``: what a caller of other plugins' hooks gets from
#: :meth:`~pcm_ops.context.PluginContext.factory` or
#: :meth:`~pcm_ops.context.PluginContext.request_factory`.
ContextFactory = Callable[[str], PluginContext]
