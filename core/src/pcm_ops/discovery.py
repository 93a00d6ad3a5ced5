"""Finding installed plugins, choosing which load, checking them, and registering their hooks.

Discovery reads entry points (no import), applies ``plugins`` / ``disabled_plugins``,
imports each enabled plugin's entry-point module, checks its metadata, and registers it with
pluggy. A plugin that fails any of these steps is recorded with its error and skipped; the
others keep working. In strict mode the first failure raises :class:`PluginError`.
"""

from __future__ import annotations

import logging
import re
import time
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from pcm_ops import PLUGIN_API_VERSION
from pcm_ops.errors import ConfigError, PluginError
from pcm_ops.plugin import PluginMetadata
from pcm_ops.registry import PluginRecord, PluginRegistry, PluginState
from pcm_ops.settings import Settings, plugin_section

ENTRY_POINT_GROUP = "pcm_ops.plugins"

logger = logging.getLogger("pcm_ops.plugins")

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_TABLE_PREFIX = re.compile(r"^[a-z][a-z0-9_]*_$")


def installed_entry_points() -> list[EntryPoint]:
    """The entry points of the ``pcm_ops.plugins`` group, sorted by name."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def check_selection(settings: Settings, installed: list[str]) -> None:
    """Raise :class:`ConfigError` when ``plugins`` or ``disabled_plugins`` name unknown ids."""
    problems = []
    known = ", ".join(installed) or "none"
    for key, names in (
        ("plugins", settings.plugins or []),
        ("disabled_plugins", settings.disabled_plugins),
    ):
        unknown = [name for name in names if name not in installed]
        if unknown:
            problems.append(
                (key, f"unknown plugin {', '.join(map(repr, unknown))}; installed: {known}")
            )
    if problems:
        raise ConfigError(problems)


def is_enabled(settings: Settings, plugin_id: str) -> bool:
    if settings.plugins is not None and plugin_id not in settings.plugins:
        return False
    return plugin_id not in settings.disabled_plugins


def check_metadata(plugin_id: str, metadata: Any) -> tuple[PluginMetadata | None, str | None]:
    """Validate a plugin's declared metadata. Returns ``(metadata, None)`` or ``(None, error)``.

    Incompatibility (a plugin-API range that excludes this core) is reported separately by
    :func:`check_compatibility`.
    """
    if not isinstance(metadata, PluginMetadata):
        found = "nothing" if metadata is None else type(metadata).__name__
        return None, (
            "the entry-point object has no `metadata` attribute of type "
            f"pcm_ops.plugin.PluginMetadata (found {found}); declare one in the plugin module"
        )
    problems = []
    if metadata.id != plugin_id:
        problems.append(f"metadata.id is {metadata.id!r} but the entry point is {plugin_id!r}")
    for name in ("id", "provider", "tool"):
        value = getattr(metadata, name)
        if not isinstance(value, str) or not _ID.match(value):
            problems.append(
                f"metadata.{name} {value!r} must be lowercase letters, digits and dashes"
            )
    if not metadata.display_name:
        problems.append("metadata.display_name is empty")
    if metadata.table_prefix is not None and not _TABLE_PREFIX.match(metadata.table_prefix):
        problems.append(
            f"metadata.table_prefix {metadata.table_prefix!r} must be lowercase, "
            "start with a letter and end with '_'"
        )
    try:
        SpecifierSet(metadata.plugin_api)
    except InvalidSpecifier:
        problems.append(
            f"metadata.plugin_api {metadata.plugin_api!r} is not a version range "
            "(write e.g. '>=1.0,<2')"
        )
    if problems:
        return None, "; ".join(problems)
    return metadata, None


def check_compatibility(metadata: PluginMetadata) -> str | None:
    """Return why the plugin cannot run on this core, or ``None`` when it can."""
    wanted = SpecifierSet(metadata.plugin_api)
    if Version(PLUGIN_API_VERSION) in wanted:
        return None
    return (
        f"plugin {metadata.id!r} requires the PCM-Ops plugin API {metadata.plugin_api} "
        f"(found {PLUGIN_API_VERSION}); install a version of the plugin built for this core, "
        "or a core it supports"
    )


def _record_for(entry_point: EntryPoint) -> PluginRecord:
    dist = entry_point.dist
    return PluginRecord(
        id=entry_point.name,
        entry_point=entry_point.value,
        distribution=dist.name if dist is not None else None,
        version=dist.version if dist is not None else None,
    )


def discover(settings: Settings, entry_points_: list[EntryPoint] | None = None) -> PluginRegistry:
    """Find, select, import, check and register plugins.

    :param settings: core settings (``plugins``, ``disabled_plugins``, ``strict_plugins``).
    :param entry_points_: the entry points to consider; default: the installed ones.
    :raises ConfigError: ``plugins``/``disabled_plugins`` name a plugin that is not
        installed, or plugin settings are invalid (all problems together).
    :raises PluginError: in strict mode, on the first plugin that cannot load.
    """
    found = installed_entry_points() if entry_points_ is None else entry_points_
    records: list[PluginRecord] = []
    seen: dict[str, PluginRecord] = {}
    duplicates: list[tuple[PluginRecord, PluginRecord]] = []
    for entry_point in found:
        record = _record_for(entry_point)
        if record.id in seen:
            duplicates.append((seen[record.id], record))
            continue
        seen[record.id] = record
        records.append(record)
    check_selection(settings, [record.id for record in records])

    registry = PluginRegistry(records, strict=settings.strict_plugins)
    for first, second in duplicates:
        registry.fail(
            first,
            f"two distributions provide it: {first.distribution} and {second.distribution}; "
            "uninstall one",
        )
    by_id = {entry_point.name: entry_point for entry_point in found}
    claimed: dict[tuple[str, str], PluginRecord] = {}
    for record in registry.records:
        if record.error is not None:
            continue
        if not is_enabled(settings, record.id):
            record.state = PluginState.DISABLED
            continue
        started = time.perf_counter()
        _load(registry, record, by_id[record.id], claimed)
        record.discovery_seconds = time.perf_counter() - started
        logger.debug(
            "discovered plugin %r (%s) in %.1f ms: %s",
            record.id,
            record.distribution,
            record.discovery_seconds * 1000,
            record.state.value,
        )
    # pluggy calls implementations last-registered-first: registering in reverse id order
    # makes a plugin's own hooks, called through plugin_manager.hook.<name>(...), run in id
    # order, as core's do (pluggy puts tryfirst and trylast ones first and last itself, but
    # orders two trylast ones the other way round: registry.implementations() does not).
    for record in reversed(registry.loaded()):
        _register(registry, record)
    _add_plugin_hookspecs(registry)
    _validate_plugin_settings(registry, settings)
    return registry


def _load(
    registry: PluginRegistry,
    record: PluginRecord,
    entry_point: EntryPoint,
    claimed: dict[tuple[str, str], PluginRecord],
) -> None:
    try:
        module = entry_point.load()
    except Exception as exc:
        registry.fail(record, f"import of {entry_point.value} failed: {type(exc).__name__}: {exc}")
        return
    metadata, problem = check_metadata(record.id, getattr(module, "metadata", None))
    if metadata is None:
        registry.fail(record, problem or "invalid metadata")
        return
    record.metadata = metadata
    incompatibility = check_compatibility(metadata)
    if incompatibility is not None:
        registry.fail(record, incompatibility, state=PluginState.INCOMPATIBLE)
        return
    prefix = (metadata.provider, metadata.tool)
    if prefix in claimed:
        other = claimed[prefix]
        registry.fail(
            record,
            f"its prefix {metadata.api_prefix} is already taken by plugin {other.id!r}; "
            "two plugins cannot share a provider and tool",
        )
        return
    overlap = _overlapping_table_prefix(metadata, claimed.values())
    if overlap is not None:
        registry.fail(record, overlap)
        return
    claimed[prefix] = record
    record.module = module
    record.state = PluginState.LOADED


def _overlapping_table_prefix(metadata: PluginMetadata, others: Any) -> str | None:
    """Why ``metadata.table_prefix`` cannot be used next to the other plugins' prefixes.

    One prefix starting another (``aws_`` and ``aws_sr_``) would make each plugin's
    migrations claim the other's tables.
    """
    mine = metadata.table_prefix
    if not mine:
        return None
    if mine.startswith("pcm_") or "pcm_".startswith(mine):
        return f"its table_prefix {mine!r} overlaps core's 'pcm_'"
    for other in others:
        theirs = other.metadata.table_prefix if other.metadata else None
        if theirs and (mine.startswith(theirs) or theirs.startswith(mine)):
            return (
                f"its table_prefix {mine!r} overlaps plugin {other.id!r}'s {theirs!r}; "
                "each plugin needs a prefix that no other prefix starts with"
            )
    return None


# pluggy options that only pluggy's own call loop can honour; core calls implementations
# itself (see pcm_ops.registry), so it refuses them rather than ignore them.
_REFUSED_HOOKIMPL_OPTIONS = ("wrapper", "hookwrapper")


def _refused_hookimpl_options(registry: PluginRegistry, module: Any) -> str | None:
    """Why ``module``'s hook implementations cannot be registered, or ``None``.

    Each implementation marked ``@hookimpl(wrapper=True)`` or ``hookwrapper=True`` is named
    with its hook and option.
    """
    marked: list[str] = []
    for name in dir(module):
        options = registry.manager.parse_hookimpl_opts(module, name)
        if not options:
            continue
        hook = options.get("specname") or name
        marked.extend(
            f"hook {hook} is marked @hookimpl({option}=True)"
            for option in _REFUSED_HOOKIMPL_OPTIONS
            if options.get(option)
        )
    if not marked:
        return None
    return (
        f"{'; '.join(marked)}: core calls each plugin's implementation itself and runs no "
        "hook wrappers; remove the option (tryfirst=True and trylast=True are honoured)"
    )


def _register(registry: PluginRegistry, record: PluginRecord) -> None:
    refused = _refused_hookimpl_options(registry, record.module)
    if refused is not None:
        registry.fail(record, refused)
        return
    try:
        registry.manager.register(record.module, name=record.id)
    except Exception as exc:  # pluggy names the hook and the offending signature
        registry.fail(record, f"its hooks do not match the specs: {exc}")


def _add_plugin_hookspecs(registry: PluginRegistry) -> None:
    """Let plugins add hook specs, then refuse implementations of hooks nobody specifies."""
    import pluggy

    registry.call_each("pcm_ops_add_hookspecs", plugin_manager=registry.manager)
    while True:
        try:
            registry.manager.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            record = next(r for r in registry.loaded() if r.module is exc.plugin)
            registry.fail(
                record,
                f"{exc}; if the hook belongs to another plugin that may be absent, mark the "
                "implementation @hookimpl(optionalhook=True)",
            )


def _validate_plugin_settings(registry: PluginRegistry, settings: Settings) -> None:
    """Validate each loaded plugin's settings section; raise every problem together."""
    from pydantic import BaseModel, ValidationError

    problems: list[tuple[str, str]] = []
    models = {rec.id: model for rec, model in registry.call_each("pcm_ops_settings_model")}
    for record in registry.loaded():
        raw = plugin_section(settings, record.id)
        model = models.get(record.id)
        if model is None:
            if raw:
                problems.append((record.id, "this plugin has no settings"))
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            registry.fail(record, "pcm_ops_settings_model did not return a pydantic model")
            continue
        try:
            record.config = model.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                location = ".".join(str(part) for part in error["loc"])
                problems.append((f"{record.id}.{location}", error["msg"]))
    for plugin_id in settings.plugin_sections:
        if registry.get(plugin_id) is None:
            known = ", ".join(r.id for r in registry.records) or "none"
            problems.append((plugin_id, f"no installed plugin has this id; installed: {known}"))
    if problems:
        raise ConfigError(problems)


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "check_compatibility",
    "check_metadata",
    "discover",
    "installed_entry_points",
]
