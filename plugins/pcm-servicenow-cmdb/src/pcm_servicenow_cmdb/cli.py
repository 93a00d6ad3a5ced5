"""``pcm-ops servicenow ...``: connections (and, next, changes and CIs) from the command line.

Secrets are read from a hidden prompt or an environment variable, never from an argument
(which ``ps`` shows)."""

from __future__ import annotations

import click

from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import cli_actor, run_in_session

SECRET_VARIABLES = {
    "password": "PCM_SERVICENOW_PASSWORD",
    "client_secret": "PCM_SERVICENOW_CLIENT_SECRET",
    "api_key": "PCM_SERVICENOW_API_KEY",
}


@click.group("servicenow")
def servicenow() -> None:
    """ServiceNow: connections, changes and CMDB items."""


@servicenow.group()
def connections() -> None:
    """Add, list and check ServiceNow connections."""


@connections.command("list")
@click.pass_obj
def list_connections(obj: CliContext) -> None:
    """Every connection with its last check's outcome."""
    from pcm_servicenow_cmdb.services import connections as service

    async def work(session):  # type: ignore[no-untyped-def]
        return [service.out(row) for row in await service.list_connections(session)]

    rows = run_in_session(obj.settings(), work)
    if not rows:
        click.echo("No ServiceNow connections.")
    for row in rows:
        status = row.status + (f": {row.last_error}" if row.last_error else "")
        click.echo(f"{row.id:>4}  {row.name:<20} {row.base_url:<40} {row.auth_kind:<26} {status}")


@connections.command("add")
@click.argument("name")
@click.option(
    "--url", "base_url", required=True, help="The instance, e.g. https://acme.service-now.com"
)
@click.option(
    "--auth",
    "auth_kind",
    type=click.Choice(["basic", "oauth_client_credentials", "oauth_password", "api_key"]),
    default="basic",
    show_default=True,
)
@click.option("--username", default="", help="basic and oauth_password.")
@click.option("--client-id", default="", help="oauth_client_credentials and oauth_password.")
@click.option("--timeout", "timeout_seconds", type=float, default=10.0, show_default=True)
@click.pass_obj
def add_connection(
    obj: CliContext,
    name: str,
    base_url: str,
    auth_kind: str,
    username: str,
    client_id: str,
    timeout_seconds: float,
) -> None:
    """Add connection NAME, checked with a real call first. Secrets come from
    PCM_SERVICENOW_PASSWORD / _CLIENT_SECRET / _API_KEY or a hidden prompt."""
    import os

    from pcm_servicenow_cmdb.schemas import ConnectionIn
    from pcm_servicenow_cmdb.services import connections as service

    needed = service.NEEDED[auth_kind]
    secrets = {
        field: os.environ.get(variable)
        or click.prompt(field.replace("_", " ").capitalize(), hide_input=True)
        for field, variable in SECRET_VARIABLES.items()
        if field in needed
    }
    try:
        data = ConnectionIn(
            name=name,
            base_url=base_url,
            auth_kind=auth_kind,
            username=username,
            client_id=client_id,
            timeout_seconds=timeout_seconds,
            **secrets,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None

    async def work(session):  # type: ignore[no-untyped-def]
        return await service.create_connection(session, data, service.Actor(cli_actor()))

    row = run_in_session(obj.settings(), work)
    click.echo(f"added connection {row.id}: {row.name} ({row.base_url}), checked: ok")


@connections.command("check")
@click.argument("name")
@click.pass_obj
def check_connection(obj: CliContext, name: str) -> None:
    """Check connection NAME now (exit status 1 when it fails)."""
    from pcm_servicenow_cmdb.services import connections as service

    async def work(session):  # type: ignore[no-untyped-def]
        row = await service.find_connection(session, name)
        return await service.check_connection(session, row.id or 0, service.Actor(cli_actor()))

    ok, detail, _ = run_in_session(obj.settings(), work)
    click.echo(("ok: " if ok else "failed: ") + detail, err=not ok)
    if not ok:
        raise SystemExit(1)
