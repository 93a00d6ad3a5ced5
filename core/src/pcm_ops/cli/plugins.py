"""``pcm-ops plugins``: what is installed, what loaded, and why not."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pcm_ops.cli.main import CliContext


@click.group()
def plugins() -> None:
    """Inspect installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_plugins(obj: CliContext, as_json: bool) -> None:
    """List installed plugins with their state, version, hooks and routes."""
    settings = obj.settings()
    registry = obj.registry()
    from pcm_ops.app import create_app
    from pcm_ops.introspection import describe_plugins

    # Building the application mounts the routes and runs the hooks that can fail a
    # plugin, so that this list says what `serve` and GET /api/plugins would say.
    create_app(settings, registry=registry)
    report = describe_plugins(settings, registry)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if not report["plugins"]:
        click.echo("No plugins installed.")
        return
    for plugin in report["plugins"]:
        version = plugin["version"] or "?"
        line = f"{plugin['id']:<24} {version:<10} {plugin['state']:<12}"
        if plugin["error"]:
            line += f" {plugin['error']}"
        elif plugin["state"] == "loaded":
            line += f" {plugin['api_prefix']}"
        click.echo(line)


@plugins.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def check_plugins(obj: CliContext, as_json: bool) -> None:
    """Load every enabled plugin and build the application; exit 1 if any plugin fails."""
    from pcm_ops.app import create_app
    from pcm_ops.introspection import describe_plugins

    settings = obj.settings()
    registry = obj.registry()
    create_app(settings, registry=registry)
    report = describe_plugins(settings, registry)
    failing = [p for p in report["plugins"] if p["state"] in ("failed", "incompatible")]
    if as_json:
        click.echo(json.dumps({"ok": not failing, "problems": failing}, indent=2))
    elif failing:
        for plugin in failing:
            click.echo(f"{plugin['id']}: {plugin['state']}: {plugin['error']}", err=True)
    else:
        loaded = sum(1 for p in report["plugins"] if p["state"] == "loaded")
        click.echo(f"ok: {loaded} plugin(s) loaded")
    if failing:
        raise SystemExit(1)


@plugins.command("new")
@click.argument("plugin_id", metavar="ID")
@click.option(
    "--provider",
    default="custom",
    show_default=True,
    help="The first part of its URLs: /api/tools/<provider>/<tool>.",
)
@click.option("--tool", default="", help="The second part of its URLs (default: the id).")
@click.option("--name", "display_name", default="", help="What the UI calls it.")
@click.option(
    "--script-runner",
    is_flag=True,
    help="Depend on pcm-aws-script-runner: add a pre-execution check and a target source.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write it (default: ./pcm-<id>); must not exist or be empty.",
)
def new_plugin(
    plugin_id: str,
    provider: str,
    tool: str,
    display_name: str,
    script_runner: bool,
    directory: Path | None,
) -> None:
    """Write a new plugin distribution named pcm-ID, ready to test and build.

    It has a table and its first migration, a seed, an API, a page with a form, a CLI
    command, settings, tests on core's fixtures and a README, all on core's public API.
    """
    from pcm_ops.scaffold import PluginSpec, ScaffoldError, render_plugin

    try:
        spec = PluginSpec(
            plugin_id,
            provider=provider,
            tool=tool,
            display_name=display_name,
            script_runner=script_runner,
        )
        target = directory or Path(spec.distribution)
        written = render_plugin(spec, target)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote {len(written)} files to {target}/ (plugin {spec.plugin_id!r}).")
    click.echo("Next:")
    click.echo(f"  cd {target}")
    click.echo("  pip install -e '.[test]' && pytest")
    click.echo("  pcm-ops db upgrade && pcm-ops serve")
