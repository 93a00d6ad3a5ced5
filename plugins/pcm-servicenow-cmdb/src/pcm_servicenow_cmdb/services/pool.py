"""One pooled ServiceNow client per connection, for the life of the process.

A client keeps its HTTP connections (and OAuth token) open between requests; a connection
whose settings changed gets a new client (the key holds its ``updated_at``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pcm_servicenow_cmdb.services.connections import settings_of

if TYPE_CHECKING:
    from pcm_servicenow_cmdb.client import ServiceNowClient
    from pcm_servicenow_cmdb.models import SnowConnection


class ClientPool:
    """``await pool.client(row)``: the pooled client of a stored connection."""

    def __init__(self) -> None:
        self._clients: dict[int, tuple[str, ServiceNowClient]] = {}
        self._lock = asyncio.Lock()

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
