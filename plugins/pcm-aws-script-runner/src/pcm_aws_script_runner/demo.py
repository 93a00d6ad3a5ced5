"""Demo mode (``pcm-ops serve --demo``): scripts to try, and a fleet inventory to run them on.

- The demo-only seed ``demo-scripts`` (:func:`seed_demo_scripts`) adds :data:`DEMO_SCRIPTS`
  to the library through :func:`~pcm_aws_script_runner.services.scripts.create_script`, as
  the user ``demo``. Core runs it once per data directory; a script whose name is taken is
  left alone.
- At start-up (:func:`sync_inventory`), after aws-common has started the fake AWS and
  registered its accounts (core starts plugins in id order, ``aws-common`` first, and the
  job engine before both), an inventory sync of every account and region is queued: the
  fake AWS's instances are new on every start.

The scripts run against the fake AWS of :mod:`pcm_aws_common.demo`, whose instances' tags
decide how each run ends (see :mod:`pcm_aws_common.testing.outcomes`); the comment
``pcm-demo:output-lines=N`` in a script makes the fake SSM print ``N`` lines of output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pcm_ops.plugin import SeedContext

__all__ = ["ACTOR", "DEMO_SCRIPTS", "DemoScript", "seed_demo_scripts", "sync_inventory"]

logger = logging.getLogger("pcm_aws_script_runner.demo")

#: Who the demo scripts' versions and the audit log name.
ACTOR = "demo"


@dataclass(frozen=True)
class DemoScript:
    name: str
    language: str
    description: str
    body: str
    tags: tuple[str, ...] = ()
    parameters: tuple[dict[str, Any], ...] = field(default_factory=tuple)


DEMO_SCRIPTS: tuple[DemoScript, ...] = (
    DemoScript(
        "Uptime and load",
        "shell",
        "How long each instance has been up, and its load. Quick and harmless: a good first run.",
        "#!/bin/bash\nuptime\ncat /proc/loadavg\n",
        ("linux", "health"),
    ),
    DemoScript(
        "Disk usage",
        "shell",
        "How full a file system is, with a warning above a threshold.",
        "#!/bin/bash\n"
        "# Disk usage of one path; warns when it is fuller than warn_percent.\n"
        'df -h "$path"\n'
        "used=$(df --output=pcent \"$path\" | tail -1 | tr -dc '0-9')\n"
        'if [ "$used" -ge "$warn_percent" ]; then\n'
        '  echo "WARNING: $path is ${used}% full (threshold ${warn_percent}%)"\n'
        "fi\n",
        ("linux", "health", "disk"),
        (
            {
                "name": "path",
                "type": "string",
                "default": "/",
                "description": "The mount point or directory to check.",
            },
            {
                "name": "warn_percent",
                "type": "integer",
                "default": 85,
                "description": "Warn above this use, in percent.",
            },
        ),
    ),
    DemoScript(
        "Restart service",
        "shell",
        "Restart a systemd service and show its status.",
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        'systemctl restart "$service"\n'
        'systemctl --no-pager status "$service" | head -5\n',
        ("linux", "service"),
        (
            {
                "name": "service",
                "type": "string",
                "default": "nginx",
                "required": True,
                "description": "The systemd unit to restart (without .service).",
            },
        ),
    ),
    DemoScript(
        "OS patch check",
        "shell",
        "List pending package updates (dnf, yum or apt); installs nothing.",
        "#!/bin/bash\n"
        "# Read-only: lists what an update would install.\n"
        "if command -v dnf >/dev/null; then dnf -q check-update || true\n"
        "elif command -v yum >/dev/null; then yum -q check-update || true\n"
        "else apt-get -s upgrade | grep '^Inst' || true\n"
        "fi\n",
        ("linux", "patching"),
    ),
    DemoScript(
        "Windows hotfixes and uptime",
        "powershell",
        "The computer's name, OS and uptime, and its five latest hotfixes. For the Windows "
        "instances (Role=reporting).",
        "Get-ComputerInfo -Property CsName, OsName, OsUptime\n"
        "Get-HotFix | Sort-Object InstalledOn -Descending | Select-Object -First 5\n",
        ("windows", "patching"),
    ),
    DemoScript(
        "Application log dump",
        "shell",
        "The last lines of the application's journal: more than the 24,000 characters SSM "
        "returns, to show how long output is truncated.",
        "#!/bin/bash\n"
        "# pcm-demo:output-lines=400 (the demo's fake SSM prints this many lines)\n"
        'journalctl --no-pager -n "$lines" -u app.service\n',
        ("linux", "logs"),
        (
            {
                "name": "lines",
                "type": "integer",
                "default": 400,
                "description": "How many lines of the journal to print.",
            },
        ),
    ),
    DemoScript(
        "Rotate application API key",
        "shell",
        "Write a new API key for an application and reload it. The key is a secret "
        "parameter: masked in the history and the audit log, never stored.",
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        'install -m 600 /dev/null "/etc/$app/api-key"\n'
        'printf \'%s\' "$api_key" > "/etc/$app/api-key"\n'
        'systemctl reload "$app"\n'
        'echo "API key of $app rotated"\n',
        ("linux", "secrets"),
        (
            {
                "name": "app",
                "type": "choice",
                "choices": ["checkout", "payments", "search"],
                "default": "checkout",
                "required": True,
                "description": "The application whose key changes.",
            },
            {
                "name": "api_key",
                "type": "string",
                "secret": True,
                "required": True,
                "description": "The new key.",
            },
        ),
    ),
)


async def seed_demo_scripts(context: SeedContext) -> None:
    """Add :data:`DEMO_SCRIPTS` that are not in the library yet (by name)."""
    from pcm_aws_script_runner.services.errors import NotFound
    from pcm_aws_script_runner.services.scripts import create_script, find_script
    from pcm_aws_script_runner.services.validation import ScriptDraft
    from pcm_ops.audit import Actor

    session: Any = context.session
    for script in DEMO_SCRIPTS:
        try:
            await find_script(session, script.name)
            continue
        except NotFound:
            pass
        draft = ScriptDraft(
            name=script.name,
            language=script.language,
            body=script.body,
            description=script.description,
            parameters=[dict(parameter) for parameter in script.parameters],
            tags=list(script.tags),
        )
        await create_script(session, draft, Actor.system(ACTOR), comment="demo data")


async def sync_inventory() -> str | None:
    """Queue an inventory sync of every registered account and region; return its job id.

    A failure is logged, not raised: the demo goes on, and the sync can be started from the
    Fleet page.
    """
    try:
        from pcm_aws_script_runner.services.inventory import enqueue_sync

        job_id: str = await enqueue_sync(account_regions=None, requested_by=ACTOR)
    except Exception:
        logger.exception("demo mode: the inventory sync could not be queued")
        return None
    logger.info("demo mode: inventory sync of every account and region queued (job %s)", job_id)
    return job_id
