"""The commands of the ``declared`` and ``declared-incompatible`` fixture plugins: the
modules their ``pcm_ops.cli`` entry points name, importing only click."""

import click


@click.group()
def declared() -> None:
    """Declared plugin's commands."""


@declared.command()
def hello() -> None:
    """Say hello from a declared command."""
    click.echo("hello from declared")


@click.group("from-the-future")
def from_the_future() -> None:
    """Commands of a plugin this core cannot load."""


@from_the_future.command("hello")
def future_hello() -> None:
    """Must never run: its plugin is incompatible."""
    click.echo("hello from the future")
