"""The example plugin's seeds. Each runs once per version, in a transaction of its own."""

from __future__ import annotations

from pcm_example.models import ExampleNote
from pcm_ops.plugin import SeedContext


async def add_welcome_note(context: SeedContext) -> None:
    greeting = context.config.greeting
    context.session.add(ExampleNote(title="Welcome", body=f"{greeting} from the example plugin."))


async def add_demo_notes(context: SeedContext) -> None:
    for title in ("Patch the fleet", "Rotate the keys"):
        context.session.add(ExampleNote(title=title, body="A demo note."))
