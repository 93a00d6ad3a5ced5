"""What the script runner's commands share: its settings, the actor changes are audited
as, and reading a file given on the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pcm_aws_script_runner.ids import PLUGIN_ID
from pcm_ops.cli.main import CliContext

if TYPE_CHECKING:
    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_ops.audit import Actor

__all__ = ["actor", "config_of", "read_text"]


def config_of(obj: CliContext) -> ScriptRunnerSettings:
    """The plugin's validated settings (defaults when it has no settings section)."""
    from pcm_aws_script_runner.config import ScriptRunnerSettings

    record = obj.registry().get(PLUGIN_ID)
    config = record.config if record is not None else None
    return config if isinstance(config, ScriptRunnerSettings) else ScriptRunnerSettings()


def actor() -> Actor:
    """The local user, as changes made from the command line are audited (``cli:<user>``)."""
    from pcm_ops.audit import Actor

    return Actor.cli()


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input); a clear error otherwise."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot read the {what} file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"the {what} file {path} is not UTF-8 text") from None
