"""One description of the installed plugins, shared by ``pcm-ops plugins list --json`` and
``GET /api/plugins`` so that the two always agree."""

from __future__ import annotations

from typing import Any

from pcm_ops.__about__ import PLUGIN_API_VERSION, __version__
from pcm_ops.registry import PluginRegistry
from pcm_ops.settings import Settings


def describe_plugins(
    settings: Settings,
    registry: PluginRegistry,
    migrations: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Describe every installed plugin: identity, state and error, hooks, routes, migrations.

    :param migrations: per plugin id, ``{"head": ..., "current": ...}`` as returned by
        :func:`pcm_ops.db.migrations.branch_status`; looked up when not given.
    """
    if migrations is None:
        migrations = _migration_summary(settings, registry)
    plugins = []
    for record in registry.records:
        metadata = record.metadata
        plugins.append(
            {
                "id": record.id,
                "distribution": record.distribution,
                "version": record.version,
                "state": record.state.value,
                "error": record.error,
                "display_name": metadata.display_name if metadata else None,
                "provider": metadata.provider if metadata else None,
                "tool": metadata.tool if metadata else None,
                "description": metadata.description if metadata else None,
                "plugin_api": metadata.plugin_api if metadata else None,
                "api_prefix": metadata.api_prefix + "/" if metadata else None,
                "page_prefix": metadata.page_prefix + "/" if metadata else None,
                "hooks": registry.hooks_of(record),
                "routes": sorted(record.routes),
                "migration": migrations.get(record.id),
                "discovery_ms": round(record.discovery_seconds * 1000, 3),
            }
        )
    return {
        "core_version": __version__,
        "plugin_api_version": PLUGIN_API_VERSION,
        "plugins": plugins,
        "hook_call_order": registry.call_order(),
    }


def _migration_summary(settings: Settings, registry: PluginRegistry) -> dict[str, dict[str, Any]]:
    from pcm_ops.db.migrations import branch_status

    try:
        rows = branch_status(settings, registry)
    except Exception as exc:  # an unreachable database must not hide the plugin list
        return {"core": {"error": f"{type(exc).__name__}: {exc}"}}
    return {
        row.owner: {"head": row.head, "current": row.current, "pending": row.pending, "error": None}
        for row in rows
    }
