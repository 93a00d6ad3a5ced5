"""Target sources: ways to choose instances that other plugins supply through
``aws_sr_target_sources`` (see :mod:`pcm_aws_script_runner.hookspecs`)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pcm_aws_common.patterns import is_account_id, is_instance_id, is_region
from pcm_aws_script_runner.hooktypes import ResolvedTarget, TargetSource, UnresolvedTarget
from pcm_aws_script_runner.services.errors import InvalidInput, NotFound, TargetResolutionError

if TYPE_CHECKING:
    from pcm_ops.context import ContextFactory
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.security.principal import Principal

__all__ = [
    "RegisteredSource",
    "Resolution",
    "resolve_reference",
    "resolve_targets",
    "target_sources",
]

logger = logging.getLogger("pcm_aws_script_runner.targets")

HOOK = "aws_sr_target_sources"
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
MAX_REFERENCE_CHARS = 200
#: At most this many unresolved items are kept (with their reasons) per reference.
MAX_UNRESOLVED = 200


@dataclass(frozen=True)
class Resolution:
    """What a reference resolved to: the instances, and what it names that is not one."""

    targets: list[ResolvedTarget]
    unresolved: list[UnresolvedTarget]


@dataclass(frozen=True)
class RegisteredSource:
    """A target source and the plugin that supplies it."""

    plugin: str
    source: TargetSource


async def target_sources(registry: PluginRegistry) -> list[RegisteredSource]:
    """Every target source of the loaded plugins, in the order core calls hooks (plugin id,
    after those marked ``tryfirst`` and before those marked ``trylast``), then as returned.

    A plugin whose implementation raises or returns something else than ``TargetSource``
    objects contributes nothing (logged); a source whose name another plugin took first,
    or whose name is malformed, is left out (logged, naming both plugins).
    """
    found: list[RegisteredSource] = []
    owners: dict[str, str] = {}
    for implementation in registry.implementations(HOOK):
        plugin = implementation.plugin.id
        try:
            returned = implementation.call()
            if inspect.isawaitable(returned):
                returned = await returned
        except Exception:
            logger.exception(
                "plugin %r: hook %s raised; its target sources are left out", plugin, HOOK
            )
            continue
        if returned is None:
            continue
        if (
            isinstance(returned, TargetSource)
            or not isinstance(returned, Sequence)
            or not all(isinstance(item, TargetSource) for item in returned)
        ):
            logger.error(
                "plugin %r: hook %s returned %r; return a list of "
                "pcm_aws_script_runner.hooktypes.TargetSource",
                plugin,
                HOOK,
                returned,
            )
            continue
        for source in returned:
            if not SOURCE_NAME.match(source.name):
                logger.error(
                    "plugin %r: target source name %r must be lowercase letters, digits and "
                    "dashes, starting with a letter; the source is left out",
                    plugin,
                    source.name,
                )
            elif source.name in owners:
                logger.error(
                    "plugin %r: target source %r is already supplied by plugin %r; the "
                    "source is left out",
                    plugin,
                    source.name,
                    owners[source.name],
                )
            else:
                owners[source.name] = plugin
                found.append(RegisteredSource(plugin, source))
    return found


def _check_target(item: object, where: str) -> ResolvedTarget:
    if not isinstance(item, ResolvedTarget):
        raise TargetResolutionError(
            f"{where} returned {item!r}; a resolver returns ResolvedTarget (and "
            "UnresolvedTarget) objects"
        )
    if not is_instance_id(item.instance_id):
        raise TargetResolutionError(
            f"{where} returned the instance id {item.instance_id!r}, which is not an SSM "
            "managed-node id (i-… or mi-…)"
        )
    if not is_account_id(item.account_id):
        raise TargetResolutionError(
            f"{where} returned the account {item.account_id!r} for {item.instance_id}; "
            "an AWS account id has 12 digits"
        )
    if not is_region(item.region):
        raise TargetResolutionError(
            f"{where} returned the region {item.region!r} for {item.instance_id}, which is "
            "not a region name"
        )
    return item


def _wants_context(resolve: Any) -> bool:
    """Whether a resolver takes the third, optional argument ``context``."""
    try:
        parameters = inspect.signature(resolve).parameters
    except (TypeError, ValueError):
        return False
    return "context" in parameters


def _check_unresolved(item: UnresolvedTarget, where: str) -> UnresolvedTarget:
    if not isinstance(item.label, str) or not isinstance(item.reason, str):
        raise TargetResolutionError(
            f"{where} returned {item!r}; an UnresolvedTarget has a text label and reason"
        )
    return UnresolvedTarget(item.label.strip()[:200], item.reason.strip()[:500])


async def resolve_targets(
    registry: PluginRegistry,
    source_name: str,
    reference: str,
    principal: Principal | None,
    *,
    time_limit: float = 60.0,
    contexts: ContextFactory | None = None,
) -> list[ResolvedTarget]:
    """The instances of :func:`resolve_reference` (what it could not resolve is dropped)."""
    resolution = await resolve_reference(
        registry, source_name, reference, principal, time_limit=time_limit, contexts=contexts
    )
    return resolution.targets


async def resolve_reference(
    registry: PluginRegistry,
    source_name: str,
    reference: str,
    principal: Principal | None,
    *,
    time_limit: float = 60.0,
    contexts: ContextFactory | None = None,
) -> Resolution:
    """Turn ``reference`` into instances with the target source named ``source_name``.

    A resolver that takes a ``context`` argument gets the supplying plugin's context from
    ``contexts`` (``None`` without it).

    :return: the instances, each once, in the order the source gave them, and the
        :class:`~pcm_aws_script_runner.hooktypes.UnresolvedTarget` items it returned
        beside them (at most :data:`MAX_UNRESOLVED`).
    :raises NotFound: no loaded plugin supplies that source.
    :raises InvalidInput: the reference is empty or too long, or the source raised a
        ``LookupError`` (it does not know the reference; its message is kept): field
        ``reference``.
    :raises TargetResolutionError: the source raised anything else (its message is kept), answered
        something malformed, or took longer than ``time_limit`` seconds; the message names
        the source and its plugin.
    """
    sources = {registered.source.name: registered for registered in await target_sources(registry)}
    registered = sources.get(source_name)
    if registered is None:
        known = ", ".join(sorted(sources)) or "none (no loaded plugin supplies one)"
        raise NotFound(f"there is no target source {source_name!r}; known: {known}")
    text = reference.strip() if isinstance(reference, str) else ""
    if not text:
        raise InvalidInput([("reference", "must not be empty")])
    if len(text) > MAX_REFERENCE_CHARS:
        raise InvalidInput([("reference", f"is longer than {MAX_REFERENCE_CHARS} characters")])
    where = f"target source {source_name!r} (plugin {registered.plugin!r})"
    try:
        async with asyncio.timeout(time_limit):
            resolve: Any = registered.source.resolve  # one of TargetResolver's two shapes
            if _wants_context(resolve):
                context = contexts(registered.plugin) if contexts else None
                returned = await resolve(text, principal, context)
            else:
                returned = await resolve(text, principal)
    except TimeoutError:
        raise TargetResolutionError(
            f"{where} did not answer within {time_limit:g} seconds; try again later"
        ) from None
    except LookupError as exc:
        # The source's way of saying that the reference is wrong: the operator's to fix.
        raise InvalidInput([("reference", f"{where} cannot resolve {text!r}: {exc}")]) from None
    except Exception as exc:
        logger.info("%s could not resolve %r", where, text, exc_info=True)
        raise TargetResolutionError(f"{where} cannot resolve {text!r}: {exc}") from None
    if isinstance(returned, str | bytes) or not isinstance(returned, Sequence):
        raise TargetResolutionError(
            f"{where} returned {type(returned).__name__}; a resolver returns a list of "
            "ResolvedTarget"
        )
    targets: dict[str, ResolvedTarget] = {}
    unresolved: list[UnresolvedTarget] = []
    for item in returned:
        if isinstance(item, UnresolvedTarget):
            if len(unresolved) < MAX_UNRESOLVED:
                unresolved.append(_check_unresolved(item, where))
            continue
        target = _check_target(item, where)
        key = f"{target.account_id}/{target.region}/{target.instance_id}"
        targets.setdefault(key, target)
    return Resolution(list(targets.values()), unresolved)
