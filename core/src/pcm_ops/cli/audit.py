"""``pcm-ops audit tail``: read the audit log."""

from __future__ import annotations

import json
import time

import click

from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_in_session


@click.group()
def audit() -> None:
    """Read the audit log."""


def _line(event) -> str:  # type: ignore[no-untyped-def]
    target = f" {event.object_type}:{event.object_id}" if event.object_type else ""
    return (
        f"{event.at.isoformat(timespec='seconds')} {event.outcome:<8} {event.actor} "
        f"{event.action}{target} from {event.client_address or '-'}"
    )


@audit.command("tail")
@click.option("-n", "--lines", default=20, show_default=True, help="How many recent events.")
@click.option("--action", help="Only this action (or a prefix ending in *).")
@click.option("--actor", help="Only this actor.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def tail(
    obj: CliContext, lines: int, action: str | None, actor: str | None, follow: bool, as_json: bool
) -> None:
    """Print the most recent audit events, oldest first."""
    from pcm_ops import audit as audit_log

    settings = obj.settings()

    def fetch(after_id: int, limit: int):  # type: ignore[no-untyped-def]
        async def work(session):  # type: ignore[no-untyped-def]
            events = await audit_log.query(session, action=action, actor=actor, limit=limit)
            return [e for e in events if (e.id or 0) > after_id]

        return list(reversed(run_in_session(settings, work)))

    def show(events) -> int:  # type: ignore[no-untyped-def]
        last = 0
        for event in events:
            if as_json:
                click.echo(json.dumps(event.model_dump(mode="json")))
            else:
                click.echo(_line(event))
            last = max(last, event.id or 0)
        return last

    last_id = show(fetch(0, lines))
    while follow:
        time.sleep(1.0)
        last_id = max(last_id, show(fetch(last_id, 500)))
