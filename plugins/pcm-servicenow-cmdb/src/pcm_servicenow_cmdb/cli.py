"""``pcm-ops servicenow ...``: connections, changes and CIs from the command line.

Secrets are read from a hidden prompt or an environment variable, never from an argument
(which ``ps`` shows)."""

from __future__ import annotations

from typing import TextIO

import click

from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_in_session

SECRET_VARIABLES = {
    "password": "PCM_SERVICENOW_PASSWORD",
    "client_secret": "PCM_SERVICENOW_CLIENT_SECRET",
    "api_key": "PCM_SERVICENOW_API_KEY",
}
#: The client certificate's key (PEM text) when ``--client-key FILE`` is not given.
CLIENT_KEY_VARIABLE = "PCM_SERVICENOW_CLIENT_KEY"


@click.group("servicenow")
def servicenow() -> None:
    """ServiceNow: connections, changes and CMDB items."""


@servicenow.group()
def connections() -> None:
    """Add, list, change, test and remove ServiceNow connections."""


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
@click.option(
    "--ca-bundle",
    type=click.File("r"),
    default=None,
    help="A PEM file of CA certificates to trust besides the system's.",
)
@click.option(
    "--client-cert",
    type=click.File("r"),
    default=None,
    help="A PEM file with a client certificate for mutual TLS (needs its key).",
)
@click.option(
    "--client-key",
    type=click.File("r"),
    default=None,
    help=f"The client certificate's unencrypted PEM key (or its text in {CLIENT_KEY_VARIABLE}).",
)
@click.pass_obj
def add_connection(
    obj: CliContext,
    name: str,
    base_url: str,
    auth_kind: str,
    username: str,
    client_id: str,
    timeout_seconds: float,
    ca_bundle: TextIO | None,
    client_cert: TextIO | None,
    client_key: TextIO | None,
) -> None:
    """Add connection NAME, checked with a real call first. Secrets come from
    PCM_SERVICENOW_PASSWORD / _CLIENT_SECRET / _API_KEY or a hidden prompt; a client
    certificate's key from --client-key FILE or PCM_SERVICENOW_CLIENT_KEY."""
    import os

    from pcm_ops.audit import Actor
    from pcm_servicenow_cmdb.schemas import ConnectionIn
    from pcm_servicenow_cmdb.services import connections as service

    needed = service.NEEDED[auth_kind]
    secrets = {
        field: os.environ.get(variable)
        or click.prompt(field.replace("_", " ").capitalize(), hide_input=True)
        for field, variable in SECRET_VARIABLES.items()
        if field in needed
    }
    tls = _tls_files(ca_bundle, client_cert, client_key)
    try:
        data = ConnectionIn(
            name=name,
            base_url=base_url,
            auth_kind=auth_kind,
            username=username,
            client_id=client_id,
            timeout_seconds=timeout_seconds,
            **secrets,
            **tls,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None

    async def work(session):  # type: ignore[no-untyped-def]
        return await service.create_connection(session, data, Actor.cli())

    row = run_in_session(obj.settings(), work)
    click.echo(f"added connection {row.id}: {row.name} ({row.base_url}), checked: ok")


def _tls_files(
    ca_bundle: TextIO | None, client_cert: TextIO | None, client_key: TextIO | None
) -> dict[str, str]:
    """The PEM texts of the TLS options given (a client certificate with its key, from
    ``--client-key FILE`` or the environment)."""
    import os

    tls: dict[str, str] = {}
    if ca_bundle is not None:
        tls["ca_bundle"] = ca_bundle.read()
    if client_cert is not None:
        tls["client_cert"] = client_cert.read()
    if client_key is not None and client_cert is None:
        raise click.UsageError("--client-key needs --client-cert")
    if client_cert is not None:
        key = client_key.read() if client_key is not None else os.environ.get(CLIENT_KEY_VARIABLE)
        if not key:
            raise click.UsageError(
                f"--client-cert needs its key: --client-key FILE or {CLIENT_KEY_VARIABLE}"
            )
        tls["client_key"] = key
    return tls


@connections.command("update")
@click.argument("name")
@click.option("--url", "base_url", default=None, help="A new instance address.")
@click.option(
    "--auth",
    "auth_kind",
    type=click.Choice(["basic", "oauth_client_credentials", "oauth_password", "api_key"]),
    default=None,
    help="A new way to authenticate (give its secrets too).",
)
@click.option("--username", default=None)
@click.option("--client-id", default=None)
@click.option("--timeout", "timeout_seconds", type=float, default=None)
@click.option(
    "--secrets",
    "new_secrets",
    is_flag=True,
    help="Set the authentication's secrets again: from PCM_SERVICENOW_PASSWORD / "
    "_CLIENT_SECRET / _API_KEY or a hidden prompt (without it, they are kept).",
)
@click.option("--ca-bundle", type=click.File("r"), default=None, help="A new CA bundle (PEM).")
@click.option("--no-ca-bundle", is_flag=True, help="Trust the system's CAs only.")
@click.option("--client-cert", type=click.File("r"), default=None, help="A new client cert.")
@click.option(
    "--client-key",
    type=click.File("r"),
    default=None,
    help=f"The new client certificate's key (or its text in {CLIENT_KEY_VARIABLE}).",
)
@click.option("--no-client-cert", is_flag=True, help="Stop presenting a client certificate.")
@click.pass_obj
def update_connection(
    obj: CliContext,
    name: str,
    base_url: str | None,
    auth_kind: str | None,
    username: str | None,
    client_id: str | None,
    timeout_seconds: float | None,
    new_secrets: bool,
    ca_bundle: TextIO | None,
    no_ca_bundle: bool,
    client_cert: TextIO | None,
    client_key: TextIO | None,
    no_client_cert: bool,
) -> None:
    """Change connection NAME; what is not given is kept (secrets too). The connection is
    checked with a real call before the change is saved."""
    import os

    from pcm_ops.audit import Actor
    from pcm_servicenow_cmdb.schemas import ConnectionUpdate
    from pcm_servicenow_cmdb.services import connections as service

    if ca_bundle is not None and no_ca_bundle:
        raise click.UsageError("give --ca-bundle or --no-ca-bundle, not both")
    if client_cert is not None and no_client_cert:
        raise click.UsageError("give --client-cert or --no-client-cert, not both")
    given: dict[str, object] = {
        field: value
        for field, value in {
            "base_url": base_url,
            "auth_kind": auth_kind,
            "username": username,
            "client_id": client_id,
            "timeout_seconds": timeout_seconds,
        }.items()
        if value is not None
    }
    given.update(_tls_files(ca_bundle, client_cert, client_key))
    if no_ca_bundle:
        given["ca_bundle"] = None
    if no_client_cert:
        given["client_cert"] = given["client_key"] = None

    def work_for(kind: str | None):  # type: ignore[no-untyped-def]
        async def work(session):  # type: ignore[no-untyped-def]
            row = await service.find_connection(session, name)
            if new_secrets:
                for field in service.NEEDED[kind or row.auth_kind]:
                    if field in SECRET_VARIABLES:
                        given[field] = os.environ.get(SECRET_VARIABLES[field]) or click.prompt(
                            field.replace("_", " ").capitalize(), hide_input=True
                        )
            try:
                data = ConnectionUpdate(**given)
            except ValueError as exc:
                raise click.ClickException(str(exc).splitlines()[0]) from None
            return await service.update_connection(session, row.id or 0, data, Actor.cli())

        return work

    if not given and not new_secrets:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    row = run_in_session(obj.settings(), work_for(auth_kind))
    click.echo(f"updated connection {row.id}: {row.name} ({row.base_url}), checked: ok")


@connections.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove_connection(obj: CliContext, name: str, yes: bool) -> None:
    """Remove connection NAME (its secrets are deleted with it)."""
    from pcm_ops.audit import Actor
    from pcm_servicenow_cmdb.services import connections as service

    if not yes:
        click.confirm(f"Remove the ServiceNow connection {name!r}?", abort=True)

    async def work(session):  # type: ignore[no-untyped-def]
        row = await service.find_connection(session, name)
        await service.delete_connection(session, row.id or 0, Actor.cli())
        return row

    row = run_in_session(obj.settings(), work)
    click.echo(f"removed connection {row.id}: {row.name}")


@connections.command("test")
@click.argument("name")
@click.pass_obj
def check_connection(obj: CliContext, name: str) -> None:
    """Test connection NAME now with a real call (exit status 1 when it fails)."""
    from pcm_ops.audit import Actor
    from pcm_servicenow_cmdb.services import connections as service

    async def work(session):  # type: ignore[no-untyped-def]
        row = await service.find_connection(session, name)
        return await service.check_connection(session, row.id or 0, Actor.cli())

    ok, detail, _ = run_in_session(obj.settings(), work)
    click.echo(("ok: " if ok else "failed: ") + detail, err=not ok)
    if not ok:
        raise SystemExit(1)


# ``check`` was the verb first; it stays so that scripts written for it keep working.
connections.add_command(
    click.Command(
        "check",
        callback=check_connection.callback,
        params=check_connection.params,
        help="The same as `test` (kept for scripts that use it).",
    )
)


def _with_client(obj: CliContext, connection: str | None, work):  # type: ignore[no-untyped-def]
    """Run ``work(client, map_cis)`` with a client of the connection (default: the only
    one) and ``await map_cis(cis)``, which maps CIs to EC2 instances (against the script
    runner's inventory when it is installed; returns the mappings and whether it was);
    a ServiceNow failure is one clear line naming the connection."""
    from pcm_ops.cli.session import run_with_database
    from pcm_ops.errors import UpstreamError
    from pcm_servicenow_cmdb.client import ServiceNowClient, ServiceNowError
    from pcm_servicenow_cmdb.services import cmdb
    from pcm_servicenow_cmdb.services import connections as service

    registry = obj.registry()

    async def main(database):  # type: ignore[no-untyped-def]
        async with database.session() as session:
            row = await service.find_connection(session, connection)
            settings = service.settings_of(row)

        async def map_cis(cis):  # type: ignore[no-untyped-def]
            async with database.session() as session:
                return await cmdb.map_with(registry, session, cis)

        async with ServiceNowClient(settings) as client:
            try:
                return await work(client, map_cis)
            except ServiceNowError as exc:
                raise UpstreamError(f"connection {row.name!r}: {exc}") from None

    return run_with_database(obj.settings(), main)


def _mapping(mapping) -> str:  # type: ignore[no-untyped-def]
    """Where a CI maps: ``i-… (name) in account region, SSM Online, by IP address``, or
    ``not mapped: why``."""
    instance = mapping.instance
    if instance is None:
        return f"not mapped: {mapping.note}"
    name = f" ({instance.name})" if instance.name else ""
    note = f" ({mapping.note})" if mapping.note else ""
    return (
        f"{instance.instance_id}{name} in {instance.account_id} {instance.region}, "
        f"SSM {instance.ping_status or 'unknown'}, by {mapping.matched_by}{note}"
    )


def _window(change) -> str:  # type: ignore[no-untyped-def]
    if change.start is None or change.end is None:
        return "no planned window"
    return f"{change.start:%Y-%m-%d %H:%M} to {change.end:%Y-%m-%d %H:%M} UTC"


@servicenow.group()
def changes() -> None:
    """Browse change requests."""


@changes.command("list")
@click.option("--connection", default=None, help="Default: the only connection.")
@click.option("-q", "text", default="", help="A change number or words of its description.")
@click.option("--state", "states", multiple=True, help="A state value, e.g. -1 (Implement).")
@click.option("--open-now", is_flag=True, help="Only changes whose window is open now.")
@click.option(
    "--mine",
    is_flag=True,
    help="Only changes assigned to my groups (the groups setting maps PCM-Ops usernames "
    "to ServiceNow assignment groups).",
)
@click.option(
    "--user",
    "username",
    default=None,
    help="Whose groups --mine uses (default: your login name).",
)
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.pass_obj
def list_changes(
    obj: CliContext,
    connection: str | None,
    text: str,
    states: tuple[str, ...],
    open_now: bool,
    mine: bool,
    username: str | None,
    limit: int,
) -> None:
    """Changes, newest planned start first."""
    import getpass
    from datetime import UTC, datetime

    from pcm_ops.errors import InvalidInput
    from pcm_servicenow_cmdb.config import ServiceNowSettings
    from pcm_servicenow_cmdb.ids import PLUGIN_ID
    from pcm_servicenow_cmdb.services import changes as service

    unknown = [state for state in states if state not in service.STATES]
    if unknown:
        known = ", ".join(f"{k} ({v})" for k, v in service.STATES.items())
        raise click.BadParameter(f"unknown {unknown}; known: {known}", param_hint="--state")
    groups: list[str] = []
    if mine:
        record = obj.registry().get(PLUGIN_ID)
        config = record.config if record is not None else None
        mapping = config.groups if isinstance(config, ServiceNowSettings) else {}
        try:
            groups = service.groups_of(mapping, username or getpass.getuser())
        except InvalidInput as exc:
            raise click.UsageError(exc.problems[0][1]) from None
    search = service.ChangeSearch(
        text=text,
        states=states,
        open_at=datetime.now(UTC) if open_now else None,
        group_names=groups,
        limit=limit,
    )
    found = _with_client(obj, connection, lambda client, _: service.list_changes(client, search))
    if not found:
        click.echo("No changes.")
    for change in found:
        click.echo(
            f"{change.number:<12} {change.state_label:<10} {change.approval:<14} "
            f"{_window(change):<40} {change.short_description}"
        )


@changes.command("show")
@click.argument("number")
@click.option("--connection", default=None, help="Default: the only connection.")
@click.pass_obj
def show_change(obj: CliContext, number: str, connection: str | None) -> None:
    """Change NUMBER with its affected CIs and the EC2 instance each maps to (or why none)."""
    from pcm_servicenow_cmdb.services import changes as service

    async def work(client, map_cis):  # type: ignore[no-untyped-def]
        change = await service.get_change(client, number.strip().upper())
        return change, *await map_cis(await service.affected_cis(client, change))

    change, mappings, inventory = _with_client(obj, connection, work)
    mapped = sum(1 for mapping in mappings if mapping.mapped)
    click.echo(f"{change.number}: {change.short_description}")
    click.echo(f"  state {change.state_label}, approval {change.approval}, type {change.type}")
    click.echo(f"  window {_window(change)}" + (", ON HOLD" if change.on_hold else ""))
    click.echo(f"  {len(mappings)} affected CI(s), {mapped} mapped to an EC2 instance:")
    if not inventory:
        click.echo(
            "  (the AWS Script Runner is not installed: CIs map by the CMDB's instance id "
            "only, without SSM status)"
        )
    for mapping in mappings:
        click.echo(f"    {mapping.ci.name:<24} {mapping.ci.ci_class:<24} {_mapping(mapping)}")


@servicenow.group()
def ci() -> None:
    """Look up configuration items."""


@ci.command("show")
@click.argument("text")
@click.option("--connection", default=None, help="Default: the only connection.")
@click.pass_obj
def show_ci(obj: CliContext, text: str, connection: str | None) -> None:
    """The CIs named TEXT (or with that instance id or IP), the EC2 instance each maps to,
    and the changes affecting them."""
    from pcm_servicenow_cmdb.services import cmdb

    async def work(client, map_cis):  # type: ignore[no-untyped-def]
        found = await cmdb.lookup(client, text)
        mappings, _ = await map_cis([item.ci for item in found])
        return list(zip(found, mappings, strict=True))

    for item, mapping in _with_client(obj, connection, work):
        ci_ = item.ci
        click.echo(f"{ci_.name} ({ci_.ci_class}), found by {item.how}")
        if ci_.instance_id:
            click.echo(f"  CMDB: instance {ci_.instance_id} in {ci_.account_id} {ci_.region}")
        if ci_.ip_address or ci_.host_name:
            click.echo(f"  {ci_.ip_address} {ci_.host_name}".rstrip())
        click.echo(f"  maps to {_mapping(mapping)}")
        for change in item.changes:
            click.echo(
                f"  affected by {change.number} ({change.state_label}): {change.short_description}"
            )
