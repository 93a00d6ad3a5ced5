"""Secrets at rest: Fernet encryption of secret columns, with a rotatable key.

The key comes from ``PCM_SECRET_KEY`` (one Fernet key, or several separated by commas, the
first being the one that encrypts) or else from ``<data dir>/secret.key``, created with mode
0600 on first use. A plugin declares a secret column with :class:`EncryptedString`; the
value is encrypted when written and decrypted when read, so the database never holds it in
plain text. ``pcm-ops secrets rotate`` adds a new key in front and re-encrypts every
:class:`EncryptedString` column of every loaded model under it.

Every process of an installation must use the same key. The database records which one:
the first process that starts on it writes a *key check value* (a known text encrypted with
its key, table ``pcm_secret_key_check``), and :func:`verify_key`, run at the start of
``pcm-ops serve``, ``pcm-ops worker`` and the commands that open the database, refuses to go
on when the configured keys cannot decrypt it, or (before a check value exists) cannot
decrypt a stored secret. A key file created by a process that is then refused is removed
again: a new key is only ever kept for a database that holds no secrets.

Example::

    from pcm_ops.security.secrets import EncryptedString

    class Credential(SQLModel, table=True):
        __tablename__ = "aws_credential"
        id: int | None = Field(default=None, primary_key=True)
        secret_access_key: str = Field(sa_type=EncryptedString)
"""

from __future__ import annotations

import hashlib
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
#: The text the key check value encrypts (see :func:`verify_key`).
CHECK_TEXT = "pcm-ops secret key check"
_CHECK_ROW_ID = 1

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


def key_fingerprint(key: bytes) -> str:
    """A short, non-secret name of ``key`` (16 hex digits of a SHA-256), for messages."""
    return hashlib.sha256(b"pcm-ops key fingerprint:" + key).hexdigest()[:16]


#: The key file this process created (with the key in it), until the database accepted it.
_generated: tuple[Path, bytes] | None = None


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
    global _generated
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    _write_key_file(path, [key])
    _generated = (path, key)
    logger.warning(
        "created a new secret key in %s (mode 0600); back it up, and give every other "
        "process of this installation the same key (%s)",
        path,
        KEY_ENV,
    )
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

    def can_decrypt(self, stored: str) -> bool:
        try:
            self.decrypt(stored)
        except SecretsError:
            return False
        return True

    def fingerprints(self) -> list[str]:
        return [key_fingerprint(key) for key in self.keys]

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
        _rotate_check_value(connection, box)
    path = None
    if not env_keys:
        path = key_file(data_dir)
        _write_key_file(path, box.keys[:1] if retire_old else box.keys)
    configure(data_dir)
    return count, path


class KeyMismatchError(SecretsError):
    """The configured key cannot decrypt the secrets this database already holds."""


def _refusal(box: SecretBox, recorded: str | None) -> KeyMismatchError:
    global _generated
    yours = ", ".join(box.fingerprints())
    theirs = f" (key fingerprint {recorded})" if recorded else ""
    message = (
        f"refusing to start: the secret key(s) of this process (fingerprint {yours}) cannot "
        f"decrypt the secrets already stored in the database{theirs}. Every process of an "
        f"installation needs the same key: set {KEY_ENV} to the key that encrypted them "
        f"(while rotating, 'new,old'), or restore that key's {KEY_FILE_NAME} in the data "
        "directory."
    )
    # Only the refused key itself is removed: a key file made earlier while PCM_SECRET_KEY
    # now names another key may hold the key of secrets elsewhere.
    if _generated is not None and box.keys == [_generated[1]]:
        path, key = _generated
        _generated = None
        try:
            if _parse_keys(path.read_text(), str(path)) == [key]:
                path.unlink()
                message += (
                    f" {KEY_ENV} was not set and {path} did not exist: the new key this "
                    "process made has been removed again."
                )
        except (OSError, ConfigError):
            pass
    return KeyMismatchError(message)


def _check_table() -> Any:
    from pcm_ops.security.models import SecretKeyCheck

    return SecretKeyCheck.__table__  # type: ignore[attr-defined]


def _stored_secrets(connection: Any, metadata: Any) -> Iterable[str]:
    """One stored value of every secret column of ``metadata`` that holds any."""
    from sqlalchemy import inspect, select

    inspector = inspect(connection)
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, EncryptedString)]
        if not columns or not inspector.has_table(table.name):
            continue
        for column in columns:
            stored = connection.execute(
                select(column.cast(Text)).where(column.is_not(None)).limit(1)
            ).scalar()
            if stored is not None:
                yield stored


def _rotate_check_value(connection: Any, box: SecretBox) -> None:
    from sqlalchemy import inspect, select, update

    from pcm_ops.db.types import utcnow

    table = _check_table()
    if not inspect(connection).has_table(table.name):
        return
    stored = connection.execute(
        select(table.c.check_value).where(table.c.id == _CHECK_ROW_ID)
    ).scalar()
    if stored is None:
        return
    connection.execute(
        update(table)
        .where(table.c.id == _CHECK_ROW_ID)
        .values(
            check_value=box.rotate(stored),
            key_fingerprint=key_fingerprint(box.keys[0]),
            updated_at=utcnow(),
        )
    )


def check_key(connection: Any, metadata: Any | None, box: SecretBox | None = None) -> str:
    """Compare ``box`` (the configured keys) with the key check value of the database on
    ``connection`` (a synchronous SQLAlchemy connection; committed here).

    Returns ``"matched"`` (the keys decrypt the check value), ``"recorded"`` (there was
    none and every secret column of ``metadata`` holds only values the keys decrypt: the
    check value is written now), ``"unchecked"`` (there was none and ``metadata`` is
    ``None``: nothing is written) or ``"not migrated"`` (core's table does not exist yet:
    nothing to compare; ``pcm-ops db upgrade`` comes first).

    :raises KeyMismatchError: the keys cannot decrypt the check value or a stored secret.
    """
    from sqlalchemy import insert, inspect, select
    from sqlalchemy.exc import IntegrityError

    from pcm_ops.db.types import utcnow

    box = box or current_box()
    table = _check_table()
    if not inspect(connection).has_table(table.name):
        return "not migrated"
    query = select(table.c.check_value, table.c.key_fingerprint).where(table.c.id == _CHECK_ROW_ID)
    row = connection.execute(query).first()
    if row is None and metadata is None:
        connection.rollback()
        return "unchecked"
    if row is None:
        for stored in _stored_secrets(connection, metadata):
            if not box.can_decrypt(stored):
                connection.rollback()
                raise _refusal(box, None)
        try:
            connection.execute(
                insert(table).values(
                    id=_CHECK_ROW_ID,
                    check_value=box.encrypt(CHECK_TEXT),
                    key_fingerprint=key_fingerprint(box.keys[0]),
                    updated_at=utcnow(),
                )
            )
            connection.commit()
        except IntegrityError:
            # Another process recorded its key first: compare with that one.
            connection.rollback()
            row = connection.execute(query).first()
        else:
            _accept()
            logger.info("recorded the secret key's check value (key %s)", box.fingerprints()[0])
            return "recorded"
    connection.rollback()
    assert row is not None
    if not box.can_decrypt(row.check_value):
        raise _refusal(box, row.key_fingerprint)
    _accept()
    return "matched"


def _accept() -> None:
    global _generated
    _generated = None


def verify_key(settings: Any, registry: Any = None) -> str:
    """Configure this process's keys and :func:`check_key` them against the database of
    ``settings`` (with the secret columns of ``registry``'s loaded models; without a
    registry only an existing check value is compared).

    Called at the start of ``pcm-ops serve``, ``pcm-ops worker`` and the CLI commands that
    open the database. Blocking: from async code run it in a thread.

    :raises KeyMismatchError: this process must not start.
    """
    from pcm_ops.db.engine import create_sync_engine
    from pcm_ops.db.migrations import load_metadata

    box = configure(settings.data_dir)
    metadata = load_metadata(registry) if registry is not None else None
    engine = create_sync_engine(settings)
    try:
        with engine.connect() as connection:
            return check_key(connection, metadata, box)
    finally:
        engine.dispose()
