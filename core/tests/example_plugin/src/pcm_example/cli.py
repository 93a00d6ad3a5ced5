"""``pcm-ops example ...``: the example plugin's commands."""

from __future__ import annotations

import click

from pcm_ops.cli.main import CliContext


@click.group()
def example() -> None:
    """Commands of the example plugin."""


@example.command()
@click.option("--name", default="operator", show_default=True, help="Who to greet.")
@click.pass_obj
def hello(obj: CliContext, name: str) -> None:
    """Greet someone with the plugin's configured greeting."""
    record = obj.registry().get("example")
    greeting = record.config.greeting if record is not None and record.config else "Hello"
    click.echo(f"{greeting}, {name}!")
