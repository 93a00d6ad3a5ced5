"""render(): plugin pages extend base.html and get the shared context."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx


class InlineCode(HTMLParser):
    """Collects what a strict Content-Security-Policy would block: inline scripts, inline
    styles and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        self.problems += [
            f"{name} attribute on <{tag}>"
            for name in names
            if name == "style" or name.startswith("on")
        ]


async def test_plugin_page_renders_through_base_html(client: httpx.AsyncClient) -> None:
    page = await client.get("/tools/aws/example/")

    assert page.status_code == 200
    assert "<title>Example overview · PCM-Ops</title>" in page.text
    assert '<span class="brand__name">PCM-Ops</span>' in page.text
    assert "<h1>Example overview</h1>" in page.text
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in page.text
    assert '<link rel="stylesheet" href="/static/css/core.css">' in page.text


async def test_plugin_page_gets_its_plugin_record(client: httpx.AsyncClient) -> None:
    page = await client.get("/tools/aws/example/")

    assert "Rendered for Example Tool." in page.text
    assert "PCM-Ops core 0.1.0 · Example Tool" in page.text


async def test_plugin_page_links_its_own_static_files(client: httpx.AsyncClient) -> None:
    page = await client.get("/tools/aws/example/")

    assert '<link rel="stylesheet" href="/tools/aws/example/static/example.css">' in page.text


async def test_values_are_escaped(client: httpx.AsyncClient) -> None:
    page = await client.get("/tools/aws/example/")

    assert "<li>&lt;beta&gt;</li>" in page.text
    assert "<beta>" not in page.text


async def test_footer_shows_the_core_version(client: httpx.AsyncClient) -> None:
    page = await client.get("/")

    assert "PCM-Ops core 0.1.0" in page.text


async def test_demo_banner_shows_in_demo_mode_only(make_app, browse) -> None:
    async with browse(make_app(demo=True)) as client:
        demo = await client.get("/")
    async with browse(make_app()) as client:
        normal = await client.get("/")

    assert 'class="demo-banner"' in demo.text
    assert "DEMO" in demo.text
    assert 'class="demo-banner"' not in normal.text


async def test_header_names_the_user_and_role(client: httpx.AsyncClient) -> None:
    page = await client.get("/")

    assert "tess" in page.text
    assert '<span class="user-badge__role">admin</span>' in page.text


async def test_pages_carry_no_inline_script_style_or_handler(make_app, browse) -> None:
    async with browse(make_app("example-tool", "incompatible", demo=True)) as client:
        pages = [
            await client.get(path)
            for path in (
                "/",
                "/plugins",
                "/tools/aws/example/",
                "/tools/aws/example/reports",
                "/no-such-page",
                "/tools/aws/example/boom",
            )
        ]
    for page in pages:
        parser = InlineCode()
        parser.feed(page.text)
        assert parser.problems == [], page.url
