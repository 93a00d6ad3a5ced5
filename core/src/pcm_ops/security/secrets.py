"""Secrets at rest: Fernet encryption of secret columns, with a rotatable key.

The key comes from ``PCM_SECRET_KEY`` (one Fernet key, or several separated by commas, the
first being the one that encrypts) or else from ``<data dir>/secret.key``, created with mode
0600 on first use. A plugin declares a secret column with :class:`EncryptedString`; the
value is encrypted when written and decrypted when read, so the database never holds it in
plain text. ``pcm-ops secrets rotate`` adds a new key in front and re-encrypts every
:class:`EncryptedString` column of every loaded model under it.

Example::

    from pcm_ops.security.secrets import EncryptedString

    class Credential(SQLModel, table=True):
        __tablename__ = "aws_credential"
        id: int | None = Field(default=None, primary_key=True)
        secret_access_key: str = Field(sa_type=EncryptedString)
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from pcm_ops.errors import ConfigError, PcmOpsError
from pcm_ops.logs import register_secret

KEY_FILE_NAME = "secret.key"
KEY_ENV = "PCM_SECRET_KEY"
_MARKER = "fernet:"

logger = logging.getLogger("pcm_ops.security")


class SecretsError(PcmOpsError):
    """A secret could not be decrypted: the key that encrypted it is not configured."""


def _parse_keys(text: str, source: str) -> list[bytes]:
    keys = [part.strip().encode() for part in re.split(r"[,\s]+", text) if part.strip()]
    if not keys:
        raise ConfigError([(source, "holds no key")])
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                [
                    (
                        source,
                        "is not a Fernet key (32 url-safe base64-encoded bytes); "
                        "make one with `pcm-ops secrets generate-key`",
                    )
                ]
            ) from None
    return keys


def key_file(data_dir: Path) -> Path:
    return data_dir / KEY_FILE_NAME


def load_keys(data_dir: Path, create: bool = True) -> list[bytes]:
    """The configured keys, newest first: from ``PCM_SECRET_KEY`` or the key file."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return _parse_keys(from_env, KEY_ENV)
    path = key_file(data_dir)
    if path.exists():
        return _parse_keys(path.read_text(), str(path))
    if not create:
        raise ConfigError([(KEY_ENV, f"not set and {path} does not exist")])
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    _write_key_file(path, [key])
    logger.warning("created a new secret key in %s (mode 0600); back it up", path)
    return [key]


def _write_key_file(path: Path, keys: Iterable[bytes]) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(key.decode() for key in keys) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


class SecretBox:
    """Encrypts and decrypts strings with the configured keys (MultiFernet)."""

    def __init__(self, keys: list[bytes]) -> None:
        self.keys = keys
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return _MARKER + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(_MARKER):
            raise SecretsError("a secret column holds a value that was not encrypted by PCM-Ops")
        try:
            return self._fernet.decrypt(stored[len(_MARKER) :].encode()).decode()
        except InvalidToken:
            raise SecretsError(
                "a stored secret cannot be decrypted with the configured key(s); "
                f"restore the key that encrypted it ({KEY_ENV} or {KEY_FILE_NAME})"
            ) from None

    def rotate(self, stored: str) -> str:
        """Re-encrypt ``stored`` under the newest key."""
        if not stored.startswith(_MARKER):
            raise SecretsError("a secret column holds a value that was not encrypted by PCM-Ops")
        token = stored[len(_MARKER) :].encode()
        try:
            return _MARKER + self._fernet.rotate(token).decode()
        except InvalidToken:
            raise SecretsError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from None


_lock = threading.Lock()
_box: SecretBox | None = None


def configure(data_dir: Path) -> SecretBox:
    """Load the keys for this process (called at start-up by the app and the CLI)."""
    global _box
    with _lock:
        _box = SecretBox(load_keys(data_dir))
        return _box


def current_box() -> SecretBox:
    if _box is None:
        raise SecretsError(
            "the secrets service is not configured; call pcm_ops.security.secrets.configure"
        )
    return _box


class EncryptedString(TypeDecorator[str]):
    """A text column whose value is Fernet-encrypted in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        register_secret(str(value))
        return current_box().encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        plaintext = current_box().decrypt(value)
        # Whatever later logs this value (a library's debug output, an error message)
        # prints it masked.
        register_secret(plaintext)
        return plaintext


def rotate_key(
    data_dir: Path, sync_engine: Any, metadata: Any, retire_old: bool = False
) -> tuple[int, Path | None]:
    """Put a new key first and re-encrypt every secret column of ``metadata`` under it.

    Returns the number of values re-encrypted and the key file written (``None`` when the
    keys come from ``PCM_SECRET_KEY``: then the operator rotates by setting ``new,old`` and
    running this, which only re-encrypts). The old keys stay in the key file, so that
    secrets of plugins that are not loaded now stay readable, unless ``retire_old``.
    """
    from sqlalchemy import literal, select, update

    env_keys = os.environ.get(KEY_ENV)
    if env_keys:
        box = SecretBox(_parse_keys(env_keys, KEY_ENV))
    else:
        box = SecretBox([Fernet.generate_key(), *load_keys(data_dir)])
    count = 0
    with sync_engine.begin() as connection:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
            if not columns:
                continue
            key_columns = list(table.primary_key.columns)
            # CAST to TEXT reads the stored ciphertext without the decrypting type.
            rows = connection.execute(
                select(*key_columns, *(column.cast(Text) for column in columns))
            ).all()
            for row in rows:
                stored_values = row[len(key_columns) :]
                values = {
                    column.name: literal(box.rotate(stored), type_=Text)
                    for column, stored in zip(columns, stored_values, strict=True)
                    if stored is not None
                }
                if not values:
                    continue
                keys = zip(key_columns, row[: len(key_columns)], strict=True)
                connection.execute(
                    update(table).where(*(column == value for column, value in keys)).values(values)
                )
                count += len(values)
    path = None
    if not env_keys:
        path = key_file(data_dir)
        _write_key_file(path, box.keys[:1] if retire_old else box.keys)
    configure(data_dir)
    return count, path
