"""``pcm-ops secrets``: the key that encrypts secrets at rest."""

from __future__ import annotations

import click

from pcm_ops.cli.main import CliContext


@click.group()
def secrets() -> None:
    """Manage the secret key."""


@secrets.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key (for PCM_SECRET_KEY)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@secrets.command("rotate")
@click.option(
    "--retire-old", is_flag=True, help="Drop the old keys from the key file after re-encrypting."
)
@click.pass_obj
def rotate(obj: CliContext, retire_old: bool) -> None:
    """Re-encrypt every stored secret under a new key."""
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.migrations import load_metadata
    from pcm_ops.security.secrets import rotate_key

    settings = obj.settings()
    registry = obj.registry()
    metadata = load_metadata(registry)
    engine = create_sync_engine(settings)
    try:
        count, path = rotate_key(settings.data_dir, engine, metadata, retire_old)
    finally:
        engine.dispose()
    where = f"new key written to {path}" if path else "keys from PCM_SECRET_KEY"
    click.echo(f"re-encrypted {count} secret value(s); {where}")
