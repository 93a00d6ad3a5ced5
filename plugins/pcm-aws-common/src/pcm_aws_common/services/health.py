"""The readiness check: every shared credential source can get its caller identity.

Checking calls AWS, so results are kept for ``health_cache_seconds``; a probe that finds
them stale starts a new round in the background and answers with the last results (only
the very first probe waits for a round). Personal credentials are not checked: one user's
expired keys must not take the platform out of its load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pcm_ops.plugin import HealthResult

if TYPE_CHECKING:
    from pcm_aws_common.services.clients import AwsClients
    from pcm_ops.settings import Settings


class SourceHealth:
    """Cached identity checks of the shared credential sources."""

    def __init__(self, clients: AwsClients, cache_seconds: float) -> None:
        self._clients = clients
        self._cache_seconds = cache_seconds
        self._result: HealthResult | None = None
        self._checked_at = 0.0
        self._task: asyncio.Task[HealthResult] | None = None
        #: How many rounds of checks ran (tests and metrics read it).
        self.rounds = 0

    async def check(self) -> HealthResult:
        stale = time.monotonic() - self._checked_at >= self._cache_seconds
        if self._result is None or stale:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._round())
            if self._result is None:
                # shield: a probe that times out must not cancel the round for the next one
                return await asyncio.shield(self._task)
        assert self._result is not None
        return self._result

    async def _round(self) -> HealthResult:
        from sqlmodel import col, select

        from pcm_aws_common.models import AwsCredentialSource
        from pcm_aws_common.services.clients import source_of

        database = self._clients._require_database()
        async with database.session() as session:
            statement = (
                select(AwsCredentialSource)
                .where(col(AwsCredentialSource.owner_id).is_(None))
                .order_by(col(AwsCredentialSource.name))
            )
            sources = [source_of(row) for row in (await session.exec(statement)).all()]
        checks = await asyncio.gather(*(self._clients.check(source) for source in sources))
        failing = [
            f"{source.name}: {check.status}" + (f" ({check.detail})" if check.detail else "")
            for source, check in zip(sources, checks, strict=True)
            if check.status != "valid"
        ]
        if not sources:
            result = HealthResult(True, "no shared credential sources")
        elif failing:
            result = HealthResult(False, "; ".join(failing))
        else:
            result = HealthResult(True, f"{len(sources)} shared credential source(s) valid")
        self._result = result
        self._checked_at = time.monotonic()
        self.rounds += 1
        return result

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def credential_sources_check(settings: Settings) -> Callable[[], Awaitable[HealthResult]]:
    """The check function ``pcm_ops_health_checks`` returns; it finds the running plugin
    through ``settings`` (the health hook is called before start-up)."""
    from pcm_aws_common import runtime

    async def check() -> HealthResult:
        state = runtime.current(settings)
        if state is None:
            return HealthResult(False, "aws-common has not started")
        return await state.health.check()

    return check
