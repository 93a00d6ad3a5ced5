"""A small plugin for the web tests: pages, templates, static files and navigation.

It is loaded through an entry point built by the tests (see ``conftest.py``), the way an
installed plugin is, and laid out like one: hooks here, routes in ``pages.py`` and
``api.py``, imported only when the hooks run. Every role may see its overview; only
admins its reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcm_ops import hookimpl
from pcm_ops.plugin import NavEntry, Permission, PluginMetadata, WebPages

HERE = Path(__file__).resolve().parent

VIEW = "example-tool:view"
REPORTS = "example-tool:reports"

metadata = PluginMetadata(
    id="example-tool",
    display_name="Example Tool",
    provider="aws",
    tool="example",
    description="A tool that exists only in the web tests.",
)


@hookimpl
def pcm_ops_permissions() -> list[Permission]:
    return [
        Permission(VIEW, "See the example tool", ("admin", "operator", "viewer")),
        Permission(REPORTS, "See the example reports", ("admin",)),
    ]


@hookimpl
def pcm_ops_api_routers() -> list[Any]:
    from web_example_plugin.api import router

    return [router]


@hookimpl
def pcm_ops_web_pages() -> WebPages:
    from web_example_plugin.pages import router

    return WebPages(
        routers=[router],
        templates=HERE / "templates",
        static=HERE / "static",
        nav=[
            NavEntry("Reports", "reports", order=20, permission=REPORTS),
            NavEntry("Overview", "", order=10),
        ],
    )
