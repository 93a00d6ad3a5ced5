"""Pre-execution checks: other plugins' say on whether a run may start, through
``aws_sr_pre_execution_checks`` (see :mod:`pcm_aws_script_runner.hookspecs`).

A check that cannot decide blocks the run: an exception, a malformed answer or a timeout
counts as a failed check naming the plugin.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pcm_aws_script_runner.hooktypes import CheckResult, ExecutionRequest

if TYPE_CHECKING:
    from pcm_ops.context import ContextFactory
    from pcm_ops.registry import HookImplementation, PluginRegistry
    from pcm_ops.security.principal import Principal

__all__ = ["CheckReport", "run_pre_execution_checks"]

logger = logging.getLogger("pcm_aws_script_runner.checks")

HOOK = "aws_sr_pre_execution_checks"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of every pre-execution check, in the order core calls hooks (plugin id,
    after those marked ``tryfirst`` and before those marked ``trylast``).

    Checks that answered ``None`` (they do not apply to the run) are not listed.
    """

    results: tuple[CheckResult, ...] = ()

    @property
    def passed(self) -> bool:
        """True when no check failed (also when there is no check at all)."""
        return all(result.ok for result in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if not result.ok]

    def reason(self) -> str:
        """The failed checks' reasons, each after its plugin: what the operator is shown."""
        return "; ".join(f"{result.plugin}: {result.reason}" for result in self.failures)


def _failed(plugin: str, reason: str) -> CheckResult:
    return CheckResult(ok=False, reason=reason, plugin=plugin)


def _interpret(plugin: str, returned: Any) -> CheckResult | None:
    if returned is None:
        return None
    if not isinstance(returned, CheckResult):
        return _failed(
            plugin,
            f"the check returned {type(returned).__name__}, not a CheckResult or None; "
            "the run is blocked until the plugin is fixed",
        )
    reason = returned.reason.strip() if isinstance(returned.reason, str) else ""
    if not returned.ok and not reason:
        reason = "the check failed without giving a reason"
    return dataclasses.replace(returned, ok=bool(returned.ok), reason=reason, plugin=plugin)


def _raised(plugin: str, exc: BaseException) -> CheckResult:
    logger.error("plugin %r: hook %s raised", plugin, HOOK, exc_info=exc)
    return _failed(plugin, f"the check raised {type(exc).__name__}: {exc}")


async def _await_check(
    plugin: str, pending: Awaitable[Any], time_limit: float
) -> CheckResult | None:
    try:
        async with asyncio.timeout(time_limit):
            returned = await pending
    except TimeoutError:
        logger.error("plugin %r: hook %s took longer than %g s", plugin, HOOK, time_limit)
        return _failed(plugin, f"the check did not answer within {time_limit:g} seconds")
    except Exception as exc:
        return _raised(plugin, exc)
    return _interpret(plugin, returned)


async def _run_one(
    implementation: HookImplementation, arguments: dict[str, Any], time_limit: float
) -> CheckResult | None:
    plugin = implementation.plugin.id
    try:
        returned = implementation.call(**arguments)
    except Exception as exc:
        return _raised(plugin, exc)
    if inspect.isawaitable(returned):
        return await _await_check(plugin, returned, time_limit)
    return _interpret(plugin, returned)


async def run_pre_execution_checks(
    registry: PluginRegistry,
    execution_request: ExecutionRequest,
    principal: Principal | None,
    *,
    time_limit: float = 30.0,
    contexts: ContextFactory | None = None,
) -> CheckReport:
    """Ask every plugin that implements ``aws_sr_pre_execution_checks`` about a run.

    Every implementation is called, even after one fails, so that the report holds every
    reason; ``async`` ones run concurrently, each for at most ``time_limit`` seconds.
    ``contexts`` gives each implementation its ``context`` argument
    (:meth:`pcm_ops.context.PluginContext.request_factory` in a route); without it,
    ``context`` is ``None``.

    :return: a :class:`CheckReport`; the run may start only when ``report.passed``.
    """
    arguments = {"execution_request": execution_request, "principal": principal}
    checks = [
        _run_one(
            each,
            {**arguments, "context": contexts(each.plugin.id) if contexts else None},
            time_limit,
        )
        for each in registry.implementations(HOOK)
    ]
    outcomes = await asyncio.gather(*checks)
    return CheckReport(tuple(result for result in outcomes if result is not None))
