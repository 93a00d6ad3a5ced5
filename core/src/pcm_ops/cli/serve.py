"""``pcm-ops serve``: run the application with uvicorn."""

from __future__ import annotations

import ipaddress

import click

from pcm_ops.cli.main import CliContext
from pcm_ops.errors import ConfigError

DEMO_BANNER = """
==============================================================================
  PCM-OPS DEMO MODE: fake clouds, demo data, demo passwords. Do not use for real
  work. Listening on http://{host}:{port}/ (loopback only).
  Data directory: {data_dir}
  The CLI on the demo's data: PCM_DATA_DIR={data_dir} pcm-ops ...
==============================================================================
"""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, PCM_HOST).")
@click.option("--port", type=int, default=None, help="Port to bind (default 8500, PCM_PORT).")
@click.option(
    "--migrate",
    is_flag=True,
    default=None,
    help="Apply pending migrations and seeds at start, under a lock (PCM_MIGRATE_ON_START).",
)
@click.option("--demo", is_flag=True, default=None, help="Demo mode: demo data, loopback only.")
@click.pass_obj
def serve(
    obj: CliContext, host: str | None, port: int | None, migrate: bool | None, demo: bool | None
) -> None:
    """Serve the HTTP API and web UI (default http://127.0.0.1:8500)."""
    settings = obj.settings(host=host, port=port, migrate_on_start=migrate, demo=demo)
    if settings.demo and not _is_loopback(settings.host):
        raise ConfigError(
            [("host", f"demo mode binds to the loopback address only, not {settings.host!r}")]
        )
    import uvicorn

    from pcm_ops.app import create_app
    from pcm_ops.logs import use_log_format

    use_log_format(settings.log_format)  # what start-up logs, before uvicorn's own set-up

    registry = obj.registry()
    if not (settings.migrate_on_start or settings.demo):
        # A key that cannot decrypt the stored secrets is refused here, as one clear line
        # ("Error: refusing to start: ..."), not as a traceback from uvicorn's start-up;
        # the application's start-up checks again (after migrating, when it migrates).
        from pcm_ops.security.secrets import verify_key

        verify_key(settings, registry)
    app = create_app(settings, registry=registry)
    if settings.demo:
        click.secho(
            DEMO_BANNER.format(host=settings.host, port=settings.port, data_dir=settings.data_dir),
            fg="yellow",
            bold=True,
            err=True,
        )
    from pcm_ops.logs import uvicorn_log_config

    uvicorn.run(
        app,
        log_config=uvicorn_log_config(settings.log_format),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
