"""``pcm-ops aws ...``: accounts, credential sources and regions from the command line.

The command line acts as the host's operator (:meth:`pcm_ops.audit.Actor.cli`): what it
creates is shared, it sees shared credential sources only, and the audit log names it
``cli:<os user>``. The services audit every change; a command's session commits it when the
command's work returns. Secrets are read from a hidden prompt or an environment variable,
never from an argument (which ``ps`` shows).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_with_database

if TYPE_CHECKING:
    from pcm_ops.audit import Actor
    from pcm_ops.db.engine import Database

T = TypeVar("T")


@dataclass
class _Context:
    session: Any
    clients: Any
    actor: Actor


def _run(obj: CliContext, work: Callable[[_Context], Awaitable[T]]) -> T:
    """Run ``work`` with a database session (committed when it returns) and the client
    factory; turn the services' errors into one clear message."""
    from pydantic import ValidationError

    from pcm_aws_common.services.errors import AwsCommonError

    settings = obj.settings()
    record = obj.registry().get("aws-common")
    if record is None or not record.loaded:
        reason = record.error if record is not None else "not installed"
        raise click.ClickException(f"the aws-common plugin is not loaded: {reason}")

    async def main(database: Database) -> T:
        from pcm_aws_common.services.clients import AwsClients
        from pcm_ops.audit import Actor

        async with (
            AwsClients(database, record.config) as clients,
            database.session() as session,
        ):
            return await work(_Context(session, clients, Actor.cli()))

    try:
        return run_with_database(settings, main)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(part) for part in error["loc"])
            + ": "
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors(include_url=False)
        )
        raise click.ClickException(problems) from None
    except AwsCommonError as exc:
        raise click.ClickException(str(exc)) from None


def _tags(values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in values:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--tag")
        tags[key] = value
    return tags


def _table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )


@click.group()
def aws() -> None:
    """AWS accounts, credential sources and regions (the aws-common plugin)."""


# -- regions ---------------------------------------------------------------------------------


@aws.group()
def regions() -> None:
    """Partitions and regions."""


@regions.command("list")
@click.option("--partition", type=click.Choice(["aws", "aws-us-gov"]), help="Only this one.")
@click.pass_obj
def list_regions(obj: CliContext, partition: str | None) -> None:
    """List the partitions and their regions."""
    from pcm_aws_common.services.partitions import list_partitions

    async def work(context: _Context) -> list[Any]:
        return await list_partitions(context.session)

    found = _run(obj, work)
    if not found:
        click.echo("No partitions yet: run `pcm-ops db seed` or `pcm-ops aws regions sync`.")
    for row, region_rows in found:
        if partition and row.id != partition:
            continue
        click.echo(f"{row.name} ({row.id}): {len(region_rows)} regions")
        for region in region_rows:
            click.echo(f"  {region.id:<16} {region.description}")


@regions.command("sync")
@click.pass_obj
def sync_regions(obj: CliContext) -> None:
    """Write the partitions and regions of the installed botocore into the database."""
    from pcm_aws_common.services.partitions import sync_partitions

    async def work(context: _Context) -> int:
        return await sync_partitions(context.session)

    click.echo(f"{_run(obj, work)} regions written.")


# -- credentials -----------------------------------------------------------------------------


@aws.group()
def credentials() -> None:
    """Shared credential sources."""


@credentials.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_credentials(obj: CliContext, as_json: bool) -> None:
    """List the shared credential sources with their status (never their secrets)."""
    from pcm_aws_common.api.convert import source_out
    from pcm_aws_common.services.credentials import list_sources

    async def work(context: _Context) -> list[Any]:
        return [source_out(row) for row in await list_sources(context.session, context.actor)]

    rows = _run(obj, work)
    if as_json:
        click.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    if not rows:
        click.echo("No shared credential sources.")
        return
    _table(
        [[str(r.id), r.name, r.partition, r.kind, r.status, r.identity_arn or "-"] for r in rows],
        ["ID", "NAME", "PARTITION", "KIND", "STATUS", "IDENTITY"],
    )


@credentials.command("add")
@click.argument("name")
@click.option(
    "--partition", type=click.Choice(["aws", "aws-us-gov"]), default="aws", show_default=True
)
@click.option(
    "--kind", type=click.Choice(["keys", "profile", "default"]), default="keys", show_default=True
)
@click.option("--profile", "profile_name", help="The profile name (kind profile).")
@click.option(
    "--access-key-id",
    envvar="PCM_AWS_ACCESS_KEY_ID",
    help="Kind keys (or PCM_AWS_ACCESS_KEY_ID); prompted when missing.",
)
@click.option("--with-session-token", is_flag=True, help="Also prompt for a session token.")
@click.pass_obj
def add_credentials(
    obj: CliContext,
    name: str,
    partition: str,
    kind: str,
    profile_name: str | None,
    access_key_id: str | None,
    with_session_token: bool,
) -> None:
    """Add a shared credential source; keys are checked with AWS before saving.

    The secret comes from PCM_AWS_SECRET_ACCESS_KEY (and PCM_AWS_SESSION_TOKEN) or a hidden
    prompt.
    """
    import os

    from pcm_aws_common.schemas import CredentialSourceIn
    from pcm_aws_common.services.credentials import create_source

    values: dict[str, Any] = {
        "name": name,
        "partition": partition,
        "kind": kind,
        "profile_name": profile_name,
        "shared": True,
    }
    if kind == "keys":
        values["access_key_id"] = access_key_id or click.prompt("Access key id")
        values["secret_access_key"] = os.environ.get("PCM_AWS_SECRET_ACCESS_KEY") or click.prompt(
            "Secret access key", hide_input=True
        )
        token = os.environ.get("PCM_AWS_SESSION_TOKEN")
        if with_session_token and not token:
            token = click.prompt("Session token", hide_input=True)
        values["session_token"] = token or None

    async def work(context: _Context) -> Any:
        return await create_source(
            context.session, context.clients, context.actor, CredentialSourceIn(**values)
        )

    row = _run(obj, work)
    identity = f" as {row.identity_arn}" if row.identity_arn else ""
    click.echo(f"Saved credential source {row.name!r} (id {row.id}): {row.status}{identity}.")


@credentials.command("refresh")
@click.argument("source")
@click.pass_obj
def refresh_credentials(obj: CliContext, source: str) -> None:
    """Check a source's identity again (SOURCE: its name or id)."""
    from pcm_aws_common.services.credentials import find_source, refresh_source

    async def work(context: _Context) -> Any:
        found = await find_source(context.session, context.actor, source)
        assert found.id is not None
        return await refresh_source(context.session, context.clients, context.actor, found.id)

    row = _run(obj, work)
    detail = f" ({row.status_detail})" if row.status_detail else ""
    click.echo(f"{row.name}: {row.status}{detail}")


@credentials.command("remove")
@click.argument("source")
@click.pass_obj
def remove_credentials(obj: CliContext, source: str) -> None:
    """Remove a shared credential source (SOURCE: its name or id)."""
    from pcm_aws_common.services.credentials import delete_source, find_source

    async def work(context: _Context) -> Any:
        found = await find_source(context.session, context.actor, source)
        assert found.id is not None
        return await delete_source(context.session, context.clients, context.actor, found.id)

    click.echo(f"Removed credential source {_run(obj, work).name!r}.")


# -- accounts --------------------------------------------------------------------------------


@aws.group()
def accounts() -> None:
    """The accounts registry."""


@accounts.command("list")
@click.option("--partition", type=click.Choice(["aws", "aws-us-gov"]))
@click.option("--tag", "tag_values", multiple=True, help="key=value; repeat for several.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_accounts(
    obj: CliContext, partition: str | None, tag_values: tuple[str, ...], as_json: bool
) -> None:
    """List the registry's accounts."""
    from pcm_aws_common.api.convert import account_out
    from pcm_aws_common.services import accounts as service

    tags = _tags(tag_values)

    async def work(context: _Context) -> list[Any]:
        rows = await service.list_accounts(context.session, partition=partition, tags=tags)
        names = await service.source_names(context.session, rows)
        return [account_out(row, names.get(row.credential_source_id, "")) for row in rows]

    rows = _run(obj, work)
    if as_json:
        click.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    if not rows:
        click.echo("No accounts.")
        return
    _table(
        [
            [
                r.account_id,
                r.name,
                r.partition,
                ",".join(r.regions),
                r.credential_source_name,
                r.role_arn or "direct",
            ]
            for r in rows
        ],
        ["ACCOUNT", "NAME", "PARTITION", "REGIONS", "SOURCE", "ACCESS"],
    )


async def _source_id(context: _Context, source: str) -> int:
    from pcm_aws_common.services.credentials import find_source

    found = await find_source(context.session, context.actor, source)
    assert found.id is not None
    return found.id


@accounts.command("add")
@click.argument("account_id")
@click.option("--name", required=True)
@click.option(
    "--partition", type=click.Choice(["aws", "aws-us-gov"]), default="aws", show_default=True
)
@click.option(
    "--region",
    "region_values",
    multiple=True,
    required=True,
    help="An enabled region; repeat for several.",
)
@click.option("--source", required=True, help="The shared credential source (name or id).")
@click.option("--role-arn", help="Assume this role in the account (default: direct).")
@click.option("--external-id")
@click.option("--session-duration", type=int, default=3600, show_default=True)
@click.option("--tag", "tag_values", multiple=True, help="key=value; repeat for several.")
@click.option("--description", default="")
@click.pass_obj
def add_account(
    obj: CliContext,
    account_id: str,
    name: str,
    partition: str,
    region_values: tuple[str, ...],
    source: str,
    role_arn: str | None,
    external_id: str | None,
    session_duration: int,
    tag_values: tuple[str, ...],
    description: str,
) -> None:
    """Add ACCOUNT_ID to the registry."""
    from pcm_aws_common.schemas import AccountIn
    from pcm_aws_common.services import accounts as service

    tags = _tags(tag_values)

    async def work(context: _Context) -> Any:
        data = AccountIn(
            account_id=account_id,
            name=name,
            partition=partition,
            regions=list(region_values),
            tags=tags,
            credential_source_id=await _source_id(context, source),
            role_arn=role_arn,
            external_id=external_id,
            session_duration_seconds=session_duration,
            description=description,
        )
        return await service.create_account(context.session, context.actor, data)

    row = _run(obj, work)
    click.echo(f"Added account {row.account_id} ({row.name}).")


@accounts.command("remove")
@click.argument("account_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove_account(obj: CliContext, account_id: str, yes: bool) -> None:
    """Remove ACCOUNT_ID from the registry."""
    from pcm_aws_common.services import accounts as service

    if not yes:
        click.confirm(f"Remove account {account_id} from the registry?", abort=True)

    async def work(context: _Context) -> Any:
        return await service.delete_account(
            context.session, context.clients, context.actor, account_id
        )

    row = _run(obj, work)
    click.echo(f"Removed account {account_id} ({row.name}).")


@accounts.command("check")
@click.argument("account_id")
@click.pass_obj
def check_account(obj: CliContext, account_id: str) -> None:
    """Reach ACCOUNT_ID as the platform does and print who AWS sees."""
    from pcm_aws_common.services import accounts as service

    async def work(context: _Context) -> Any:
        await service.get_account(context.session, account_id)
        return await service.check_access(context.clients, account_id, context.actor.name)

    result = _run(obj, work)
    if not result.ok:
        raise click.ClickException(result.detail)
    click.echo(f"{account_id}: reached as {result.identity_arn}")


@accounts.command("import")
@click.option("--source", required=True, help="A shared credential source (name or id).")
@click.option("--management-role-arn", help="Assume this role to read the organization.")
@click.option(
    "--member-role-name",
    default="OrganizationAccountAccessRole",
    show_default=True,
    help="Role assumed in each imported account; '' for direct access.",
)
@click.option(
    "--region",
    "region_values",
    multiple=True,
    required=True,
    help="Region to enable in each imported account; repeat for several.",
)
@click.option("--external-id")
@click.option("--tag", "tag_values", multiple=True, help="key=value for every imported account.")
@click.option("--yes", is_flag=True, help="Import every importable account without asking.")
@click.pass_obj
def import_accounts(
    obj: CliContext,
    source: str,
    management_role_arn: str | None,
    member_role_name: str,
    region_values: tuple[str, ...],
    external_id: str | None,
    tag_values: tuple[str, ...],
    yes: bool,
) -> None:
    """Import accounts from AWS Organizations: show the organization's accounts, then save
    the importable ones after confirmation."""
    from pcm_aws_common.schemas import ImportIn, ImportSaveIn
    from pcm_aws_common.services import accounts as service

    tags = _tags(tag_values)

    def settings_of(source_id: int) -> dict[str, Any]:
        return {
            "credential_source_id": source_id,
            "management_role_arn": management_role_arn,
            "member_role_name": member_role_name or None,
            "regions": list(region_values),
            "external_id": external_id,
            "tags": tags,
        }

    async def preview(context: _Context) -> tuple[int, Any]:
        source_id = await _source_id(context, source)
        return source_id, await service.preview_import(
            context.session, context.clients, context.actor, ImportIn(**settings_of(source_id))
        )

    source_id, found = _run(obj, preview)
    _table(
        [
            [
                a.account_id,
                a.name,
                a.status,
                "yes" if a.importable else f"no: {a.reason}",
                a.role_arn or "direct",
            ]
            for a in found.accounts
        ],
        ["ACCOUNT", "NAME", "STATUS", "IMPORT", "ACCESS"],
    )
    chosen = [account.account_id for account in found.accounts if account.importable]
    if not chosen:
        click.echo("Nothing to import.")
        return
    if not yes:
        click.confirm(f"Import {len(chosen)} account(s)?", abort=True)

    async def save(context: _Context) -> tuple[list[Any], list[tuple[str, str]]]:
        return await service.import_accounts(
            context.session,
            context.clients,
            context.actor,
            ImportSaveIn(**settings_of(source_id), account_ids=chosen),
        )

    created, skipped = _run(obj, save)
    click.echo(f"Imported {len(created)} account(s).")
    for account_id, reason in skipped:
        click.echo(f"Skipped {account_id}: {reason}")
