"""What the API and the pages share: a request's way to ServiceNow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pcm_ops.errors import UpstreamError
from pcm_servicenow_cmdb.ids import PLUGIN_ID
from pcm_servicenow_cmdb.services import changes, cmdb, connections, pool

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_servicenow_cmdb.client import ServiceNowClient
    from pcm_servicenow_cmdb.config import ServiceNowSettings
    from pcm_servicenow_cmdb.models import SnowConnection


def plugin_settings(app: Any) -> ServiceNowSettings:
    """The plugin's settings (its defaults when the registry holds none)."""
    from pcm_servicenow_cmdb.config import ServiceNowSettings

    record = app.state.registry.get(PLUGIN_ID)
    config = record.config if record is not None else None
    return config if isinstance(config, ServiceNowSettings) else ServiceNowSettings()


def my_groups(app: Any, username: str) -> list[str]:
    """The assignment groups of ``username`` by the ``groups`` setting (the "mine" filter).

    :raises InvalidInput: none are configured for them (field ``mine``).
    """
    return changes.groups_of(plugin_settings(app).groups, username)


@dataclass
class ServiceNowReads:
    """A connection (the one named, or the only one), its pooled client and the plugin's
    cache. A ServiceNow failure comes out as an ``UpstreamError`` (502) naming the
    connection."""

    row: SnowConnection
    client: ServiceNowClient
    pool: pool.ClientPool
    cache_seconds: float

    @classmethod
    async def of(cls, request: Any, session: AsyncSession, name: str | None) -> ServiceNowReads:
        row = await connections.find_connection(session, name)
        clients: pool.ClientPool = request.app.state.servicenow_clients
        record = request.app.state.registry.get(PLUGIN_ID)
        seconds = float(record.config.cache_seconds) if record and record.config else 0.0
        return cls(row, await clients.client(row), clients, seconds)

    def _failed(self, exc: Exception) -> UpstreamError:
        return UpstreamError(f"connection {self.row.name!r}: {exc}")

    async def list_changes(
        self, search: changes.ChangeSearch, *, refresh: bool = False
    ) -> list[changes.Change]:
        from pcm_servicenow_cmdb.client import ServiceNowError

        try:
            return await pool.list_changes_cached(
                self.pool, self.row, self.client, search, self.cache_seconds, refresh=refresh
            )
        except ServiceNowError as exc:
            raise self._failed(exc) from None

    async def change_detail(
        self, number: str, *, refresh: bool = False
    ) -> tuple[changes.Change, list[changes.AffectedCI]]:
        from pcm_servicenow_cmdb.client import ServiceNowError

        try:
            return await pool.change_detail_cached(
                self.pool, self.row, self.client, number, self.cache_seconds, refresh=refresh
            )
        except ServiceNowError as exc:
            raise self._failed(exc) from None

    async def work_notes(
        self, change: changes.Change, *, refresh: bool = False
    ) -> list[changes.JournalEntry]:
        from pcm_servicenow_cmdb.client import ServiceNowError

        try:
            return await pool.work_notes_cached(
                self.pool,
                self.row,
                self.client,
                change.sys_id,
                self.cache_seconds,
                refresh=refresh,
            )
        except ServiceNowError as exc:
            raise self._failed(exc) from None

    async def lookup(self, text: str) -> list[cmdb.CILookup]:
        from pcm_servicenow_cmdb.client import ServiceNowError

        try:
            return await cmdb.lookup(self.client, text)
        except ServiceNowError as exc:
            raise self._failed(exc) from None
