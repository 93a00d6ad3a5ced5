"""One pooled ServiceNow client per connection, for the life of the process.

A client keeps its HTTP connections (and OAuth token) open between requests; a connection
whose settings changed gets a new client (the key holds its ``updated_at``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from pcm_servicenow_cmdb.services import changes
from pcm_servicenow_cmdb.services.connections import settings_of

if TYPE_CHECKING:
    from pcm_servicenow_cmdb.client import ServiceNowClient
    from pcm_servicenow_cmdb.models import SnowConnection


T = TypeVar("T")
#: Answers kept at most, across connections (the oldest go first).
CACHE_ENTRIES = 500


class ClientPool:
    """``await pool.client(row)``: the pooled client of a stored connection; and
    ``await pool.cached(key, seconds, read)``: an answer reused for ``seconds``, so that
    browsing is fast and polite to ServiceNow (``seconds`` 0 or a refresh: read again)."""

    def __init__(self) -> None:
        self._clients: dict[int, tuple[str, ServiceNowClient]] = {}
        self._lock = asyncio.Lock()
        self._cache: dict[Hashable, tuple[float, Any]] = {}

    async def cached(
        self,
        key: Hashable,
        seconds: float,
        read: Callable[[], Awaitable[T]],
        *,
        refresh: bool = False,
    ) -> T:
        now = time.monotonic()
        found = self._cache.get(key)
        if found is not None and found[0] > now and not refresh and seconds > 0:
            value: T = found[1]
            return value
        value = await read()
        if seconds > 0:
            if len(self._cache) >= CACHE_ENTRIES:
                for stale in sorted(self._cache, key=lambda k: self._cache[k][0])[:50]:
                    del self._cache[stale]
            self._cache[key] = (now + seconds, value)
        return value

    async def client(self, row: SnowConnection) -> ServiceNowClient:
        from pcm_servicenow_cmdb.client import ServiceNowClient

        version = row.updated_at.isoformat()
        async with self._lock:
            found = self._clients.get(row.id or 0)
            if found is not None and found[0] == version:
                return found[1]
            if found is not None:
                await found[1].aclose()
            client = ServiceNowClient(settings_of(row))
            self._clients[row.id or 0] = (version, client)
            return client

    async def aclose(self) -> None:
        async with self._lock:
            clients = [client for _, client in self._clients.values()]
            self._clients.clear()
        for client in clients:
            await client.aclose()


async def list_changes_cached(
    pool: ClientPool,
    row: SnowConnection,
    client: ServiceNowClient,
    search: changes.ChangeSearch,
    seconds: float,
    *,
    refresh: bool = False,
) -> list[changes.Change]:
    """:func:`~pcm_servicenow_cmdb.services.changes.list_changes`, reused for ``seconds``."""
    open_minute = search.open_at.replace(second=0, microsecond=0) if search.open_at else None
    key = (
        "changes",
        row.id,
        row.updated_at,
        search.text,
        tuple(search.states),
        search.approval,
        search.type,
        tuple(search.assignment_groups),
        tuple(search.group_names),
        open_minute,
        search.limit,
        search.offset,
    )
    return await pool.cached(
        key, seconds, lambda: changes.list_changes(client, search), refresh=refresh
    )


async def change_detail_cached(
    pool: ClientPool,
    row: SnowConnection,
    client: ServiceNowClient,
    number: str,
    seconds: float,
    *,
    refresh: bool = False,
) -> tuple[changes.Change, list[changes.AffectedCI]]:
    """A change and its affected CIs, reused for ``seconds``."""

    async def read() -> tuple[changes.Change, list[changes.AffectedCI]]:
        change = await changes.get_change(client, number)
        return change, await changes.affected_cis(client, change)

    key = ("change", row.id, row.updated_at, number)
    return await pool.cached(key, seconds, read, refresh=refresh)


async def work_notes_cached(
    pool: ClientPool,
    row: SnowConnection,
    client: ServiceNowClient,
    sys_id: str,
    seconds: float,
    *,
    refresh: bool = False,
) -> list[changes.JournalEntry]:
    """A change's recent work notes, reused for ``seconds``."""
    key = ("work_notes", row.id, row.updated_at, sys_id)
    return await pool.cached(
        key, seconds, lambda: changes.work_notes(client, sys_id), refresh=refresh
    )
