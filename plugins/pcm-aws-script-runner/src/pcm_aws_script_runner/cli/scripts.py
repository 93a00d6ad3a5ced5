"""``pcm-ops script-runner scripts ...``: the script library from the command line."""

from __future__ import annotations

import json
from typing import Any

import click

from pcm_aws_script_runner.cli.common import actor, config_of, read_text
from pcm_ops.cli.main import CliContext
from pcm_ops.cli.session import run_in_session

LANGUAGE_CHOICE = click.Choice(["shell", "powershell"])


def _parameters(path: str | None) -> list[Any] | None:
    from pcm_aws_script_runner.services.parameters import parameters_from_json

    if path is None:
        return None
    return parameters_from_json(read_text(path, "parameters"))


def _summary(script: Any) -> dict[str, Any]:
    from pcm_aws_script_runner.services.validation import LANGUAGES

    return {
        "id": script.id,
        "name": script.name,
        "description": script.description,
        "language": script.language,
        "ssm_document": LANGUAGES[script.language],
        "tags": list(script.tags),
        "current_version": script.current_version,
        "sha256": script.current_sha256,
        "archived": script.archived,
        "updated_by": script.updated_by,
        "updated_at": script.updated_at.isoformat(),
    }


def _version(version: Any) -> dict[str, Any]:
    return {
        "number": version.number,
        "name": version.name,
        "language": version.language,
        "sha256": version.sha256,
        "comment": version.comment,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
        "parameters": version.parameters,
        "body": version.body,
    }


@click.group()
def scripts() -> None:
    """List, show, create, update, archive and compare scripts."""


@scripts.command("list")
@click.option("--search", "-q", help="Text in the name or description.")
@click.option("--tag", help="Only scripts with this tag.")
@click.option("--archived", "include_archived", is_flag=True, help="Include archived scripts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(
    obj: CliContext, search: str | None, tag: str | None, include_archived: bool, as_json: bool
) -> None:
    """List scripts by name."""
    from pcm_aws_script_runner.services import scripts as service

    async def work(session: Any) -> list[Any]:
        return await service.list_scripts(
            session, search=search, tag=tag, include_archived=include_archived, limit=100_000
        )

    rows = run_in_session(obj.settings(), work)
    if as_json:
        click.echo(json.dumps([_summary(row) for row in rows], indent=2))
        return
    if not rows:
        click.echo(
            "No scripts. Add one: pcm-ops script-runner scripts create --file F --name N "
            "--language shell"
        )
    for row in rows:
        state = " (archived)" if row.archived else ""
        tags = f"  [{', '.join(row.tags)}]" if row.tags else ""
        click.echo(
            f"{row.id:>5}  {row.name:<40} {row.language:<10} v{row.current_version:<4} "
            f"{row.current_sha256[:12]}{state}{tags}"
        )


@scripts.command()
@click.argument("script")
@click.option("--version", "number", type=click.IntRange(min=1), help="Default: the current one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(obj: CliContext, script: str, number: int | None, as_json: bool) -> None:
    """Show SCRIPT (a name or an id): its details and a version's body."""
    from pcm_aws_script_runner.services import scripts as service

    async def work(session: Any) -> tuple[Any, Any]:
        row = await service.find_script(session, script)
        assert row.id is not None
        version = await service.get_version(session, row.id, number or row.current_version)
        return row, version

    row, version = run_in_session(obj.settings(), work)
    if as_json:
        click.echo(json.dumps({**_summary(row), "version": _version(version)}, indent=2))
        return
    click.echo(f"{row.name} (id {row.id}){' — archived' if row.archived else ''}")
    if row.description:
        click.echo(row.description)
    click.echo(f"language:  {version.language}")
    click.echo(f"version:   {version.number} of {row.current_version}, sha256 {version.sha256}")
    click.echo(f"saved:     {version.created_at:%Y-%m-%d %H:%M} UTC by {version.created_by}")
    if version.comment:
        click.echo(f"comment:   {version.comment}")
    if row.tags:
        click.echo(f"tags:      {', '.join(row.tags)}")
    for spec in version.parameters:
        flags = [flag for flag in ("required", "secret") if spec.get(flag)]
        default = "" if spec.get("default") is None else f" = {json.dumps(spec['default'])}"
        choices = f" {spec['choices']}" if spec.get("choices") else ""
        flag_text = f" ({', '.join(flags)})" if flags else ""
        click.echo(f"parameter: {spec['name']}: {spec['type']}{choices}{default}{flag_text}")
    click.echo("")
    click.echo(version.body, nl=not version.body.endswith("\n"))


@scripts.command()
@click.option("--file", "file_", required=True, help="The script body ('-' reads stdin).")
@click.option("--name", required=True, help="Unique regardless of case.")
@click.option("--language", type=LANGUAGE_CHOICE, required=True)
@click.option("--description", default="")
@click.option("--tag", "tags", multiple=True, help="Repeat for several.")
@click.option("--parameters", "parameters_file", help="A JSON file: a list of parameter objects.")
@click.option("--comment", default="", help="Recorded with the version.")
@click.pass_obj
def create(
    obj: CliContext,
    file_: str,
    name: str,
    language: str,
    description: str,
    tags: tuple[str, ...],
    parameters_file: str | None,
    comment: str,
) -> None:
    """Add a script (its version 1)."""
    from pcm_aws_script_runner.services import scripts as service
    from pcm_aws_script_runner.services.validation import ScriptDraft

    draft = ScriptDraft(
        name=name,
        language=language,
        body=read_text(file_, "script"),
        description=description,
        parameters=_parameters(parameters_file) or [],
        tags=list(tags),
    )
    config = config_of(obj)

    async def work(session: Any) -> tuple[Any, Any]:
        return await service.create_script(
            session, draft, actor(), comment=comment, max_body_bytes=config.max_script_bytes
        )

    row, version = run_in_session(obj.settings(), work)
    click.echo(f"created script {row.name!r} (id {row.id}), version 1, sha256 {version.sha256}")


@scripts.command()
@click.argument("script")
@click.option("--file", "file_", help="A new body ('-' reads stdin).")
@click.option("--name", help="A new name.")
@click.option("--language", type=LANGUAGE_CHOICE)
@click.option("--description")
@click.option("--tag", "tags", multiple=True, help="Replaces the tags; repeat for several.")
@click.option("--clear-tags", is_flag=True, help="Remove every tag.")
@click.option("--parameters", "parameters_file", help="A JSON file: replaces the parameters.")
@click.option("--comment", default="", help="Recorded with the version.")
@click.pass_obj
def update(
    obj: CliContext,
    script: str,
    file_: str | None,
    name: str | None,
    language: str | None,
    description: str | None,
    tags: tuple[str, ...],
    clear_tags: bool,
    parameters_file: str | None,
    comment: str,
) -> None:
    """Save a new version of SCRIPT (a name or an id) with the options given changed."""
    from pcm_aws_script_runner.services import scripts as service

    changes: dict[str, Any] = {}
    if file_ is not None:
        changes["body"] = read_text(file_, "script")
    if name is not None:
        changes["name"] = name
    if language is not None:
        changes["language"] = language
    if description is not None:
        changes["description"] = description
    if tags or clear_tags:
        changes["tags"] = list(tags)
    if parameters_file is not None:
        changes["parameters"] = _parameters(parameters_file)
    config = config_of(obj)

    async def work(session: Any) -> tuple[Any, Any, bool]:
        row = await service.find_script(session, script)
        assert row.id is not None
        before = row.current_sha256
        row, version = await service.update_script(
            session,
            row.id,
            changes,
            actor(),
            comment=comment,
            max_body_bytes=config.max_script_bytes,
        )
        return row, version, before != version.sha256

    row, version, changed = run_in_session(obj.settings(), work)
    what = "content changed" if changed else "content unchanged"
    click.echo(
        f"saved script {row.name!r} as version {version.number} ({what}), sha256 {version.sha256}"
    )


def _set_archived(obj: CliContext, script: str, archived: bool) -> Any:
    from pcm_aws_script_runner.services import scripts as service

    async def work(session: Any) -> Any:
        row = await service.find_script(session, script)
        assert row.id is not None
        return await service.set_archived(session, row.id, archived, actor())

    return run_in_session(obj.settings(), work)


@scripts.command()
@click.argument("script")
@click.pass_obj
def archive(obj: CliContext, script: str) -> None:
    """Archive SCRIPT: it stays readable but cannot be run or edited."""
    row = _set_archived(obj, script, True)
    click.echo(f"archived script {row.name!r}")


@scripts.command()
@click.argument("script")
@click.pass_obj
def unarchive(obj: CliContext, script: str) -> None:
    """Bring an archived SCRIPT back."""
    row = _set_archived(obj, script, False)
    click.echo(f"unarchived script {row.name!r}")


@scripts.command()
@click.argument("script")
@click.pass_obj
def versions(obj: CliContext, script: str) -> None:
    """List the versions of SCRIPT, newest first."""
    from pcm_aws_script_runner.services import scripts as service

    async def work(session: Any) -> list[Any]:
        row = await service.find_script(session, script)
        assert row.id is not None
        return await service.list_versions(session, row.id)

    for version, changed in service.version_pairs(run_in_session(obj.settings(), work)):
        note = "" if changed else " (content unchanged)"
        comment = f"  {version.comment}" if version.comment else ""
        click.echo(
            f"v{version.number:<4} {version.sha256[:12]} {version.created_at:%Y-%m-%d %H:%M} "
            f"{version.created_by}{note}{comment}"
        )


@scripts.command()
@click.argument("script")
@click.option("--from", "from_", type=click.IntRange(min=1), help="Default: the one before --to.")
@click.option("--to", type=click.IntRange(min=1), help="Default: the current version.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def diff(obj: CliContext, script: str, from_: int | None, to: int | None, as_json: bool) -> None:
    """Show what changed in SCRIPT between two versions."""
    from pcm_aws_script_runner.services import scripts as service
    from pcm_aws_script_runner.services.diff import diff_versions

    async def work(session: Any) -> Any:
        row = await service.find_script(session, script)
        assert row.id is not None
        newer = to or row.current_version
        older = from_ or max(newer - 1, 1)
        old = await service.get_version(session, row.id, older)
        new = await service.get_version(session, row.id, newer)
        return diff_versions(old, new)

    result = run_in_session(obj.settings(), work)
    if as_json:
        from dataclasses import asdict

        click.echo(
            json.dumps({**asdict(result), "content_changed": result.content_changed}, indent=2)
        )
        return
    click.echo(
        f"v{result.from_version} {result.from_sha256[:12]} -> "
        f"v{result.to_version} {result.to_sha256[:12]}"
    )
    for change in result.fields:
        click.echo(f"{change.field}: {json.dumps(change.before)} -> {json.dumps(change.after)}")
    for parameter in result.parameters:
        fields = f" ({', '.join(parameter.fields)})" if parameter.fields else ""
        click.echo(f"parameter {parameter.name}: {parameter.change}{fields}")
    if result.parameters_reordered:
        click.echo("parameters reordered")
    if result.body_diff:
        click.echo(result.body_diff)
    elif not result.fields and not result.parameters:
        click.echo("no differences")
