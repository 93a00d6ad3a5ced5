"""The hooks of the example plugin: what core reads and calls, and nothing else.

Core imports this module at discovery, so it imports only ``pcm_ops`` and the standard
library at the top; FastAPI, SQLModel and the plugin's own modules are imported inside the
hooks that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcm_ops import hookimpl
from pcm_ops.plugin import (
    HealthCheck,
    JobDefinitions,
    MigrationTree,
    NavEntry,
    Permission,
    PluginMetadata,
    QueueDefinition,
    Seed,
    WebPages,
)

PACKAGE = Path(__file__).parent

metadata = PluginMetadata(
    id="example",
    display_name="Example Notes",
    provider="example",
    tool="notes",
    description="The reference plugin: notes with an API, pages, a migration and seeds.",
    plugin_api=">=1.0,<2",
    table_prefix="example_",
)


@hookimpl
def pcm_ops_add_hookspecs(plugin_manager: Any) -> None:
    from pcm_example import hookspecs

    plugin_manager.add_hookspecs(hookspecs)


@hookimpl
def example_greeting(name: str) -> str:
    # The plugin implements its own hook too; other plugins add their greetings.
    return f"Hello, {name}!"


@hookimpl
def pcm_ops_settings_model() -> Any:
    from pcm_example.config import ExampleSettings

    return ExampleSettings


@hookimpl
def pcm_ops_permissions() -> list[Permission]:
    return [
        Permission("example:notes.read", "Read notes", ("admin", "operator", "viewer")),
        Permission("example:notes.write", "Write notes", ("admin", "operator")),
    ]


@hookimpl
def pcm_ops_models() -> list[Any]:
    from pcm_example.models import ExampleNote

    return [ExampleNote]


@hookimpl
def pcm_ops_migrations() -> MigrationTree:
    return MigrationTree(directory=PACKAGE / "migrations" / "versions")


@hookimpl
def pcm_ops_seeds() -> list[Seed]:
    from pcm_example.seeds import add_demo_notes, add_welcome_note

    return [
        Seed("welcome-note", 1, add_welcome_note, "A first note that says hello."),
        Seed("demo-notes", 1, add_demo_notes, "A few notes to look at.", demo_only=True),
    ]


@hookimpl
def pcm_ops_api_routers() -> list[Any]:
    from pcm_example.api import router

    return [router]


@hookimpl
def pcm_ops_web_pages() -> WebPages:
    from pcm_example.pages import router

    return WebPages(
        routers=[router],
        templates=PACKAGE / "templates",
        static=PACKAGE / "static",
        nav=[NavEntry("Notes", "", order=10, permission="example:notes.read")],
    )


@hookimpl
def pcm_ops_health_checks(config: Any) -> list[HealthCheck]:
    from pcm_example.health import greeting_is_set

    return [HealthCheck("greeting", greeting_is_set(config), timeout=1.0)]


@hookimpl
def pcm_ops_jobs(config: Any) -> JobDefinitions:
    return JobDefinitions(
        modules=["pcm_example.jobs"],
        queues=[QueueDefinition("example.digests", concurrency=config.digest_concurrency)],
    )


@hookimpl
async def pcm_ops_startup(app: Any, config: Any) -> None:
    from pcm_example.services import NoteCounter

    app.state.example_counter = NoteCounter(limit=config.max_notes)


@hookimpl
async def pcm_ops_shutdown(app: Any) -> None:
    app.state.example_counter = None


@hookimpl
def pcm_ops_cli_commands() -> list[Any]:
    from pcm_example.cli import example

    return [example]
