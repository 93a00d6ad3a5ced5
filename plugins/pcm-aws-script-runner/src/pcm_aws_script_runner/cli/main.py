"""``pcm-ops script-runner``: the command group, with the scripts, inventory and
executions groups.

The commands work on the database directly, through the same services as the API, as an
administrator of the local machine: every change is audited as ``cli:<user>``. Errors the
user can fix (a bad field, an unknown script, a duplicate name) print as
``Error: <message>`` and exit 1.
"""

from __future__ import annotations

import click

from pcm_aws_script_runner.cli.executions import executions
from pcm_aws_script_runner.cli.inventory import inventory
from pcm_aws_script_runner.cli.scripts import scripts

__all__ = ["script_runner"]


@click.group("script-runner")
def script_runner() -> None:
    """AWS Script Runner: the script library, the fleet inventory and executions."""


script_runner.add_command(scripts)
script_runner.add_command(inventory)
script_runner.add_command(executions)
