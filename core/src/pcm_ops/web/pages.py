"""Core's own pages: the landing page, the installed plugins and the UI kit."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from pcm_ops.introspection import describe_plugins
from pcm_ops.registry import PluginRegistry
from pcm_ops.security.auth import require
from pcm_ops.security.permissions import AUTHENTICATED
from pcm_ops.web.nav import provider_label
from pcm_ops.web.templating import render, web_state

__all__ = ["ProviderTools", "Tool", "router"]

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Tool:
    """A loaded plugin as the landing page lists it."""

    id: str
    display_name: str
    description: str
    href: str | None


@dataclass(frozen=True)
class ProviderTools:
    """The loaded plugins of one provider."""

    provider: str
    label: str
    tools: tuple[Tool, ...]


def _tools_by_provider(request: Request, registry: PluginRegistry) -> list[ProviderTools]:
    web = web_state(request)
    groups: dict[str, list[Tool]] = {}
    for record in registry.loaded():
        if record.metadata is None:
            continue
        pages = web.plugins.get(record.id)
        groups.setdefault(record.metadata.provider, []).append(
            Tool(
                id=record.id,
                display_name=record.metadata.display_name,
                description=record.metadata.description,
                href=pages.index_href if pages is not None else None,
            )
        )
    providers = [
        ProviderTools(
            provider=provider,
            label=provider_label(provider),
            tools=tuple(sorted(tools, key=lambda tool: tool.display_name.casefold())),
        )
        for provider, tools in groups.items()
    ]
    return sorted(providers, key=lambda group: group.label.casefold())


@router.get("/", response_class=HTMLResponse, name="home", dependencies=[require(AUTHENTICATED)])
async def home(request: Request) -> HTMLResponse:
    """Every provider with its tools, or how to install the first one."""
    registry: PluginRegistry = request.app.state.registry
    return render(
        request,
        "core/index.html",
        {
            "providers": _tools_by_provider(request, registry),
            "installed": len(registry.records),
            "problems": registry.problems,
        },
    )


@router.get(
    "/plugins",
    response_class=HTMLResponse,
    name="plugins",
    dependencies=[require("core:plugins.read")],
)
async def plugins(request: Request) -> HTMLResponse:
    """Every installed plugin with its state, version, error, hooks and routes."""
    state = request.app.state
    # Migration state needs the database; this page shows what discovery found.
    report = describe_plugins(state.settings, state.registry, migrations={})
    return render(request, "core/plugins.html", {"report": report})


_FORM_SOURCE = """{{ form_problems(problems) }}
<form class="form" method="post" action="{{ base }}/">
  {{ csrf_field(user) }}
  <label class="form__label" for="name">Name</label>
  <input class="form__input" id="name" name="name" value="{{ form.name or '' }}">
  {{ field_problems(problems, "name") }}
  <button class="button" type="submit">Save</button>
</form>"""

_TABLE_SOURCE = """<div class="table-wrap" tabindex="0" role="region" aria-label="Items">
  <table class="table">
    <caption class="visually-hidden">Items</caption>
    <thead><tr><th scope="col">Name</th><th scope="col">State</th></tr></thead>
    <tbody>{% for row in rows %}<tr><td>{{ row.name }}</td>
      <td>{{ state_badge(row.state) }}</td></tr>{% endfor %}</tbody>
  </table>
</div>"""

_EMPTY_SOURCE = """{% call empty_state("No items yet") %}<p>Add the first one.</p>{% endcall %}"""


@router.get(
    "/ui-kit",
    response_class=HTMLResponse,
    name="ui_kit",
    dependencies=[require(AUTHENTICATED)],
)
async def ui_kit(request: Request) -> HTMLResponse:
    """Every piece plugin pages are made of, rendered, with its template code."""
    context = {
        "sample_problems": [
            ("name", "use letters, digits and dashes"),
            ("description", "at most 500 characters"),
        ],
        "sample_rows": [("web-01", "loaded"), ("web-02", "disabled"), ("db-01", "failed")],
        "form_source": _FORM_SOURCE,
        "table_source": _TABLE_SOURCE,
        "empty_source": _EMPTY_SOURCE,
    }
    return render(request, "core/ui_kit.html", context)
