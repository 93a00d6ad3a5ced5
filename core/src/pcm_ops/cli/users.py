"""``pcm-ops users``: create, list, disable and change the role of users."""

from __future__ import annotations

import json

import click

from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import cli_actor, run_in_session
from pcm_ops.errors import PcmOpsError

ROLE_CHOICE = click.Choice(["admin", "operator", "viewer"])


@click.group()
def users() -> None:
    """Manage users (the first admin is created here)."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True, help="The user's role.")
@click.option(
    "--password",
    envvar="PCM_NEW_USER_PASSWORD",
    help="The password (default: asked for twice, never echoed; or PCM_NEW_USER_PASSWORD).",
)
@click.pass_obj
def create(obj: CliContext, username: str, role: str, password: str | None) -> None:
    """Create a user. There is no default password: you choose one."""
    from pcm_ops import audit
    from pcm_ops.security.users import create_user

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(session):  # type: ignore[no-untyped-def]
        user = await create_user(session, username, password, role)
        await audit.record(
            session,
            None,
            "core.user.create",
            object_type="user",
            object_id=username,
            details={"role": role},
            actor=cli_actor(),
        )
        return user

    run_in_session(obj.settings(), work)
    click.echo(f"created {role} {username!r}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(obj: CliContext, as_json: bool) -> None:
    """List users with their roles."""
    from pcm_ops.security.users import list_users

    rows = run_in_session(obj.settings(), list_users)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "username": u.username,
                        "role": u.role,
                        "disabled": u.disabled,
                        "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
                    }
                    for u in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("No users. Create the first admin: pcm-ops users create NAME --role admin")
    for user in rows:
        state = "disabled" if user.disabled else "enabled"
        click.echo(f"{user.username:<30} {user.role:<9} {state}")


def _change(obj: CliContext, username: str, role: str | None, disabled: bool | None) -> None:
    from pcm_ops.security.service import UserChange, change_user_account

    async def work(session):  # type: ignore[no-untyped-def]
        return await change_user_account(
            session, username, UserChange(role=role, disabled=disabled), actor=cli_actor()
        )

    run_in_session(obj.settings(), work)


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@click.pass_obj
def set_role(obj: CliContext, username: str, role: str) -> None:
    """Change a user's role (their sessions end)."""
    _change(obj, username, role, None)
    click.echo(f"{username!r} is now {role}")


@users.command("disable")
@click.argument("username")
@click.pass_obj
def disable(obj: CliContext, username: str) -> None:
    """Disable a user: their sessions end and their tokens stop working."""
    _change(obj, username, None, True)
    click.echo(f"{username!r} is disabled")


@users.command("enable")
@click.argument("username")
@click.pass_obj
def enable(obj: CliContext, username: str) -> None:
    """Enable a disabled user again."""
    _change(obj, username, None, False)
    click.echo(f"{username!r} is enabled")


__all__ = ["PcmOpsError", "users"]
