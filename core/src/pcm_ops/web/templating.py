"""The one Jinja2 environment of the application, and :func:`render`, which pages use.

Core's templates (``base.html``, ``core/...``) sit in ``pcm_ops/web/templates``. Each
plugin's template folder is reached under its id: ``"aws-script-runner/index.html"`` is
``index.html`` in that plugin's folder. Plugin templates usually start with
``{% extends "base.html" %}`` and fill ``{% block content %}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pcm_ops.__about__ import __version__
from pcm_ops.registry import PluginRecord
from pcm_ops.settings import Settings
from pcm_ops.web.flash import flash_messages
from pcm_ops.web.nav import NavGroup, current_href, visible_navigation

__all__ = [
    "CORE_TEMPLATES",
    "PluginPages",
    "UiSettings",
    "WebState",
    "base_context",
    "build_environment",
    "render",
    "web_state",
]

CORE_TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class UiSettings:
    """The settings templates may show: display values only, never secrets or paths."""

    demo: bool = False

    @classmethod
    def of(cls, settings: Settings) -> UiSettings:
        return cls(demo=settings.demo)


@dataclass
class PluginPages:
    """A loaded plugin as the web UI knows it.

    Attributes:
        record: the plugin.
        index_href: where the plugin's pages start (``None``: it has no pages).
        static_prefix: where its static files are served (``None``: it has none).
    """

    record: PluginRecord
    index_href: str | None = None
    static_prefix: str | None = None

    @property
    def page_prefix(self) -> str:
        assert self.record.metadata is not None
        return self.record.metadata.page_prefix


@dataclass
class WebState:
    """Everything the web UI built at start-up; kept on ``app.state.web``.

    Attributes:
        templates: the Jinja2 environment that finds core's and every plugin's templates.
        settings: the display settings templates see.
        nav: navigation groups of every loaded plugin, before per-request filtering.
        plugins: every plugin that returned web pages, by id.
    """

    templates: jinja2.Environment
    settings: UiSettings
    nav: list[NavGroup] = field(default_factory=list)
    plugins: dict[str, PluginPages] = field(default_factory=dict)

    def plugin_for_path(self, path: str) -> PluginRecord | None:
        """The plugin whose page prefix ``path`` lies under, if any."""
        for pages in self.plugins.values():
            prefix = pages.page_prefix
            if path == prefix or path.startswith(prefix + "/"):
                return pages.record
        return None

    def static_url(self, path: str, plugin: str | None = None) -> str:
        """The address of a static file: core's (``static_url("css/core.css")``) or a
        plugin's (``static_url("app.css", plugin="aws-script-runner")``)."""
        if plugin is None:
            return "/static/" + path.lstrip("/")
        pages = self.plugins.get(plugin)
        if pages is None or pages.static_prefix is None:
            raise LookupError(f"plugin {plugin!r} serves no static files")
        return f"{pages.static_prefix}/{path.lstrip('/')}"


def build_environment(plugin_templates: Mapping[str, Path]) -> jinja2.Environment:
    """The Jinja2 environment: core's templates, then each plugin's under ``"<id>/"``.

    Core's templates come first, so a plugin cannot replace ``base.html`` or ``core/...``.
    Autoescaping is on for every template.
    """
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(CORE_TEMPLATES),
            jinja2.PrefixLoader(
                {
                    plugin_id: jinja2.FileSystemLoader(path)
                    for plugin_id, path in plugin_templates.items()
                },
                delimiter="/",
            ),
        ]
    )
    environment = jinja2.Environment(
        loader=loader,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.globals["core_version"] = __version__
    return environment


def web_state(request: Request) -> WebState:
    """The :class:`WebState` of the application serving ``request``."""
    state: WebState | None = getattr(request.app.state, "web", None)
    if state is None:
        raise RuntimeError(
            "the web UI is not set up on this application; build it with "
            "pcm_ops.app.create_app (which calls pcm_ops.web.setup_web)"
        )
    return state


def base_context(request: Request, *, show_flashes: bool = True) -> dict[str, Any]:
    """What every page's template receives (see :func:`render`)."""
    web = web_state(request)
    nav = visible_navigation(request, web.nav)
    return {
        "request": request,
        "user": getattr(request.state, "principal", None),
        "nav": nav,
        "current_href": current_href(request.url.path, nav),
        "flashes": flash_messages(request) if show_flashes else (),
        "settings": web.settings,
        "core_version": __version__,
        "plugin": web.plugin_for_path(request.url.path),
        "static_url": web.static_url,
    }


def render(
    request: Request,
    template_name: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a template into an HTML response. Plugin page routes return this.

    The template always receives:

    - ``request``: the current request;
    - ``user``: the :class:`~pcm_ops.security.Principal` making it, or ``None``;
    - ``nav``: the navigation groups (:class:`~pcm_ops.web.nav.NavGroup`) this user may see,
      and ``current_href``, the ``href`` of the link for the current page;
    - ``flashes``: the :func:`~pcm_ops.web.flash` messages waiting to be shown (``base.html``
      shows them; iterating takes them);
    - ``settings``: display settings (:class:`UiSettings`, e.g. ``settings.demo``);
    - ``core_version``: the version of PCM-Ops core;
    - ``plugin``: the :class:`~pcm_ops.registry.PluginRecord` whose page prefix the request
      path lies under, else ``None``;
    - ``static_url(path, plugin=None)``: the address of a static file of core or a plugin.

    ``context`` is added on top of these.

    :param request: the current request.
    :param template_name: e.g. ``"aws-script-runner/index.html"`` for a plugin's template.
    :param context: the page's own values.
    :param status_code: the HTTP status of the response.
    :param headers: extra response headers.
    :raises jinja2.TemplateNotFound: no such template.
    """
    template = web_state(request).templates.get_template(template_name)
    values = base_context(request)
    if context:
        values.update(context)
    return HTMLResponse(template.render(values), status_code=status_code, headers=headers)
