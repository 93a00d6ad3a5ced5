"""``pcm-ops tokens``: API tokens for a user (shown once, stored hashed)."""

from __future__ import annotations

import json

import click

from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import cli_actor, run_in_session
from pcm_ops.errors import PcmOpsError


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (e.g. 'ci').")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A permission the token carries; repeat. Default: all of the user's.",
)
@click.option("--expires-in-days", type=int, default=90, show_default=True)
@click.pass_obj
def create(
    obj: CliContext, username: str, name: str, scopes: tuple[str, ...], expires_in_days: int
) -> None:
    """Create a token for USERNAME and print it (this once)."""
    from pcm_ops import audit
    from pcm_ops.security.permissions import collect_permissions
    from pcm_ops.security.tokens import create_token
    from pcm_ops.security.users import get_user

    settings = obj.settings()
    permission_set = collect_permissions(obj.registry())

    async def work(session):  # type: ignore[no-untyped-def]
        user = await get_user(session, username)
        if user is None:
            raise PcmOpsError(f"username: no user {username!r}")
        held = permission_set.for_role(user.role)
        issued = await create_token(
            session, user, name, list(scopes) or sorted(held), held, expires_in_days
        )
        await audit.record(
            session,
            None,
            "core.token.create",
            object_type="token",
            object_id=str(issued.token.id),
            details={"name": name, "user": username, "scopes": issued.token.scopes},
            actor=cli_actor(),
        )
        return issued

    issued = run_in_session(settings, work)
    click.echo(issued.raw)
    click.echo(
        f"token {name!r} for {username!r} (id {issued.token.id}); it is shown only this once",
        err=True,
    )


@tokens.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_(obj: CliContext, username: str | None, as_json: bool) -> None:
    """List tokens (never the tokens themselves)."""
    from pcm_ops.security.tokens import list_tokens, token_state
    from pcm_ops.security.users import get_user, list_users

    async def work(session):  # type: ignore[no-untyped-def]
        users = {u.id: u.username for u in await list_users(session)}
        user_id = None
        if username:
            user = await get_user(session, username)
            if user is None:
                raise PcmOpsError(f"user: no user {username!r}")
            user_id = user.id
        return users, await list_tokens(session, user_id)

    users, rows = run_in_session(obj.settings(), work)
    data = [
        {
            "id": t.id,
            "user": users.get(t.user_id),
            "name": t.name,
            "prefix": t.prefix,
            "scopes": t.scopes,
            "state": token_state(t),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        }
        for t in rows
    ]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for row in data:
        click.echo(
            f"{row['id']:>5} {row['user']:<20} {row['name']:<20} {row['prefix']}… "
            f"{row['state']:<8} last used {row['last_used_at'] or 'never'}"
        )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def revoke(obj: CliContext, token_id: int) -> None:
    """Revoke a token by id."""
    from pcm_ops import audit
    from pcm_ops.security.models import ApiToken
    from pcm_ops.security.tokens import revoke_token

    async def work(session):  # type: ignore[no-untyped-def]
        token = await session.get(ApiToken, token_id)
        if token is None:
            raise PcmOpsError(f"token_id: no token {token_id}")
        await revoke_token(session, token)
        await audit.record(
            session,
            None,
            "core.token.revoke",
            object_type="token",
            object_id=str(token_id),
            details={"name": token.name},
            actor=cli_actor(),
        )

    run_in_session(obj.settings(), work)
    click.echo(f"token {token_id} revoked")
