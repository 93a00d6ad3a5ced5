"""The navigation bar: plugins' :class:`~pcm_ops.plugin.NavEntry` items grouped by provider.

Navigation is built once, when the application is created (:func:`build_navigation`), and
filtered for each request (:func:`visible_navigation`): a user sees the links whose
permission they hold, and someone not logged in sees none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.requests import Request

from pcm_ops.plugin import NavEntry
from pcm_ops.registry import PluginRecord

__all__ = [
    "NavGroup",
    "NavLink",
    "build_navigation",
    "current_href",
    "may_see",
    "page_href",
    "provider_label",
    "visible_navigation",
]

#: Providers whose names are not simply title-cased slugs.
PROVIDER_LABELS = {"aws": "AWS", "servicenow": "ServiceNow"}


@dataclass(frozen=True)
class NavLink:
    """One link in the navigation, with an absolute ``href``."""

    label: str
    href: str
    plugin_id: str
    order: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class NavGroup:
    """The links of one provider, sorted by ``(order, label)``."""

    provider: str
    label: str
    links: tuple[NavLink, ...]


def provider_label(provider: str) -> str:
    """How a provider slug reads: ``aws`` → ``AWS``, ``servicenow`` → ``ServiceNow``,
    anything else title-cased with dashes as spaces (``google-cloud`` → ``Google Cloud``)."""
    return PROVIDER_LABELS.get(provider, provider.replace("-", " ").title())


def page_href(page_prefix: str, path: str = "") -> str:
    """The absolute address of ``path`` under a plugin's page prefix.

    ``page_href("/tools/aws/script-runner", "")`` is ``/tools/aws/script-runner/`` and
    ``page_href("/tools/aws/script-runner", "executions")`` is
    ``/tools/aws/script-runner/executions``.
    """
    return f"{page_prefix.rstrip('/')}/{path.lstrip('/')}"


def build_navigation(entries: Iterable[tuple[PluginRecord, NavEntry]]) -> list[NavGroup]:
    """Group plugins' navigation entries by provider.

    Groups are sorted by their label, links within a group by ``(order, label)``.

    :param entries: ``(record, entry)`` pairs of loaded plugins that have metadata.
    """
    by_provider: dict[str, list[NavLink]] = {}
    for record, entry in entries:
        assert record.metadata is not None
        link = NavLink(
            label=entry.label,
            href=page_href(record.metadata.page_prefix, entry.path),
            plugin_id=record.id,
            order=entry.order,
            permission=entry.permission,
        )
        by_provider.setdefault(record.metadata.provider, []).append(link)
    groups = [
        NavGroup(
            provider=provider,
            label=provider_label(provider),
            links=tuple(sorted(links, key=lambda link: (link.order, link.label))),
        )
        for provider, links in by_provider.items()
    ]
    return sorted(groups, key=lambda group: group.label.casefold())


def may_see(request: Request, link: NavLink) -> bool:
    """Whether the user behind ``request`` may see ``link``: anyone logged in when the link
    names no permission, else only a user who holds it; nobody who is not logged in, and
    nobody when the link's plugin is no longer loaded.

    The principal is the one :func:`pcm_ops.security.auth.authenticate` put on
    ``request.state`` (pages rendered outside a route, such as a 404 for an unknown path,
    resolve it first: see :mod:`pcm_ops.web.errors`).
    """
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return False
    # A plugin that failed after the navigation was built (in its startup hook) keeps no
    # links: its pages answer 503.
    record = request.app.state.registry.get(link.plugin_id)
    if record is not None and not record.loaded:
        return False
    return link.permission is None or bool(principal.can(link.permission))


def visible_navigation(request: Request, groups: Sequence[NavGroup]) -> list[NavGroup]:
    """The navigation ``request``'s user may see: links filtered by :func:`may_see`, empty
    groups dropped. The one place that decides who sees which link."""
    visible = []
    for group in groups:
        links = tuple(link for link in group.links if may_see(request, link))
        if links:
            visible.append(NavGroup(group.provider, group.label, links))
    return visible


def current_href(path: str, groups: Sequence[NavGroup]) -> str | None:
    """The ``href`` of the link that best matches ``path``: the page itself, else its
    nearest ancestor (``/tools/aws/x/runs/42`` selects ``/tools/aws/x/runs``)."""
    best: str | None = None
    for group in groups:
        for link in group.links:
            base = link.href.rstrip("/")
            matches = path == link.href or path == base or path.startswith(base + "/")
            if matches and (best is None or len(link.href) > len(best)):
                best = link.href
    return best
