"""The web UI shell: server-rendered Jinja2 pages with htmx, extended by plugins.

Plugins add pages through the :func:`~pcm_ops.hookspecs.pcm_ops_web_pages` hook and render
them with :func:`render`; :func:`flash` queues a one-time notification. ``base.html`` gives
every page the header, the navigation grouped by provider, flash messages and the footer.

A plugin page::

    from fastapi import APIRouter, Request
    from fastapi.responses import HTMLResponse
    from pcm_ops.web import render

    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return render(request, "aws-script-runner/index.html", {"scripts": [...]})

with ``templates/index.html`` in the plugin's template folder::

    {% extends "base.html" %}
    {% block title %}Scripts{% endblock %}
    {% block content %}<h1>Scripts</h1>...{% endblock %}
"""

from __future__ import annotations

from pcm_ops.web.flash import flash
from pcm_ops.web.nav import NavGroup, NavLink, visible_navigation
from pcm_ops.web.shell import setup_web
from pcm_ops.web.templating import render

__all__ = ["NavGroup", "NavLink", "flash", "render", "setup_web", "visible_navigation"]
