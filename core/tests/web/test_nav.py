"""Navigation: plugins' entries grouped by provider, filtered by permission."""

from __future__ import annotations

import re
from types import SimpleNamespace

import httpx

from pcm_ops.plugin import NavEntry, PluginMetadata
from pcm_ops.registry import PluginRecord, PluginState
from pcm_ops.web.nav import (
    NavGroup,
    NavLink,
    build_navigation,
    current_href,
    page_href,
    provider_label,
    visible_navigation,
)


def _record(plugin_id: str, provider: str, tool: str) -> PluginRecord:
    metadata = PluginMetadata(id=plugin_id, display_name=plugin_id, provider=provider, tool=tool)
    return PluginRecord(plugin_id, "x", state=PluginState.LOADED, metadata=metadata)


def _side_nav(html: str) -> str:
    match = re.search(r'<nav class="side-nav".*?</nav>', html, re.S)
    return match.group(0) if match else ""


def test_provider_labels() -> None:
    assert provider_label("aws") == "AWS"
    assert provider_label("servicenow") == "ServiceNow"
    assert provider_label("azure") == "Azure"
    assert provider_label("google-cloud") == "Google Cloud"


def test_page_href_is_relative_to_the_page_prefix() -> None:
    assert page_href("/tools/aws/sr") == "/tools/aws/sr/"
    assert page_href("/tools/aws/sr", "executions") == "/tools/aws/sr/executions"
    assert page_href("/tools/aws/sr", "/executions") == "/tools/aws/sr/executions"


def test_entries_are_grouped_by_provider_and_sorted_by_order_then_label() -> None:
    runner = _record("aws-runner", "aws", "runner")
    cmdb = _record("sn-cmdb", "servicenow", "cmdb")
    inventory = _record("aws-inventory", "aws", "inventory")

    groups = build_navigation(
        [
            (runner, NavEntry("Scripts", "scripts", order=20)),
            (cmdb, NavEntry("CMDB")),
            (inventory, NavEntry("Inventory", order=20)),
            (runner, NavEntry("Executions", "executions", order=10)),
        ]
    )

    assert [(g.label, [link.label for link in g.links]) for g in groups] == [
        ("AWS", ["Executions", "Inventory", "Scripts"]),
        ("ServiceNow", ["CMDB"]),
    ]
    assert groups[0].links[0].href == "/tools/aws/runner/executions"
    assert groups[0].links[1].href == "/tools/aws/inventory/"


def test_current_href_prefers_the_deepest_matching_link() -> None:
    group = NavGroup(
        "aws",
        "AWS",
        (
            NavLink("Overview", "/tools/aws/x/", "x"),
            NavLink("Runs", "/tools/aws/x/runs", "x"),
        ),
    )

    assert current_href("/tools/aws/x/", [group]) == "/tools/aws/x/"
    assert current_href("/tools/aws/x/runs", [group]) == "/tools/aws/x/runs"
    assert current_href("/tools/aws/x/runs/42", [group]) == "/tools/aws/x/runs"
    assert current_href("/tools/aws/x/other", [group]) == "/tools/aws/x/"
    assert current_href("/plugins", [group]) is None


def test_links_need_a_principal_and_its_permission() -> None:
    group = NavGroup(
        "aws",
        "AWS",
        (
            NavLink("Overview", "/o", "x"),
            NavLink("Admin", "/a", "x", permission="x:admin"),
        ),
    )

    def request_of(principal: object) -> object:
        registry = SimpleNamespace(get=lambda plugin_id: None)
        return SimpleNamespace(
            state=SimpleNamespace(principal=principal),
            app=SimpleNamespace(state=SimpleNamespace(registry=registry)),
        )

    viewer = SimpleNamespace(can=lambda permission: False)
    admin = SimpleNamespace(can=lambda permission: True)

    assert visible_navigation(request_of(None), [group]) == []
    assert [link.label for link in visible_navigation(request_of(viewer), [group])[0].links] == [
        "Overview"
    ]
    assert len(visible_navigation(request_of(admin), [group])[0].links) == 2


async def test_navigation_shows_the_plugin_entries_under_its_provider(
    client: httpx.AsyncClient,
) -> None:
    nav = _side_nav((await client.get("/")).text)

    assert ">AWS</h2>" in nav
    assert re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav) == [
        ("/tools/aws/example/", "Overview"),
        ("/tools/aws/example/reports", "Reports"),
    ]


async def test_navigation_marks_the_current_page(client: httpx.AsyncClient) -> None:
    nav = _side_nav((await client.get("/tools/aws/example/reports")).text)

    assert '<a href="/tools/aws/example/reports" aria-current="page">Reports</a>' in nav
    assert '<a href="/tools/aws/example/">Overview</a>' in nav


async def test_navigation_hides_entries_the_user_may_not_see(make_app, browse) -> None:
    async with browse(make_app(role="viewer")) as client:
        nav = _side_nav((await client.get("/")).text)

    assert "Overview" in nav
    assert "Reports" not in nav


async def test_nobody_logged_in_sees_no_navigation(make_app, browse) -> None:
    async with browse(make_app(role=None)) as client:
        page = await client.get("/login")

    assert page.status_code == 200
    assert "Log in to PCM-Ops" in page.text
    assert _side_nav(page.text) == ""
    assert "/tools/aws/example/" not in page.text


def test_links_of_a_plugin_that_failed_later_are_hidden() -> None:
    group = NavGroup("aws", "AWS", (NavLink("Overview", "/o", "x"),))
    failed = SimpleNamespace(loaded=False)
    request = SimpleNamespace(
        state=SimpleNamespace(principal=SimpleNamespace(can=lambda permission: True)),
        app=SimpleNamespace(state=SimpleNamespace(registry=SimpleNamespace(get=lambda _: failed))),
    )
    assert visible_navigation(request, [group]) == []
