"""Credential sources: who may see and change which, validation before saving, refresh.

Rules:

- A source entered by a user (``kind="keys"``) belongs to that user and nobody else sees it,
  unless someone allowed to share (``aws-common:credentials.share``, admins by default)
  saves it as shared.
- The host's default credential chain and named profiles are the host's: only those
  allowed to share may add them, and they are always shared.
- Entered keys are checked with sts:GetCallerIdentity before anything is saved; a rejected
  key is not saved and the error carries AWS's reason.
- Only shared sources can reach registry accounts.

Every change (:func:`create_source`, :func:`update_source`, :func:`delete_source`,
:func:`refresh_source`) is written to the audit log in the caller's transaction
(``object_type`` ``aws-credential-source``; details: :func:`audit_details`, never a secret),
whether it comes from the API, the pages, the CLI or demo mode.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_aws_common.ids import CREDENTIALS_ACTION, SHARE_CREDENTIALS
from pcm_aws_common.models import AwsAccount, AwsCredentialSource
from pcm_aws_common.schemas import CredentialSourceIn, CredentialSourcePatch
from pcm_aws_common.services.clients import source_of
from pcm_aws_common.services.errors import Conflict, FieldProblem, Forbidden, NotFound
from pcm_aws_common.services.partitions import (
    check_partition,
    partition_label,
    require_seeded,
)
from pcm_ops.audit import Actor, record_by

if TYPE_CHECKING:
    from pcm_aws_common.services.clients import AwsClients, SourceCheck

HOST_KINDS = ("default", "profile")
#: The audit log's ``object_type`` of a credential source.
OBJECT_TYPE = "aws-credential-source"

# Who acts is core's :class:`pcm_ops.audit.Actor`: a user (``user_id``) sees shared sources
# and their own, and may share with ``aws-common:credentials.share``; the CLI and demo mode
# (no user) act on shared sources only, with every permission.


def audit_details(row: AwsCredentialSource) -> dict[str, Any]:
    """What the audit log keeps of a source: never a secret."""
    return {
        "name": row.name,
        "kind": row.kind,
        "partition": row.partition_id,
        "shared": row.shared,
        "status": row.status,
        "identity_arn": row.identity_arn,
    }


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: AwsCredentialSource,
    source_id: int | None = None,
    **extra: Any,
) -> None:
    await record_by(
        session,
        actor,
        f"{CREDENTIALS_ACTION}.{action}",
        object_type=OBJECT_TYPE,
        object_id=str(source_id if source_id is not None else row.id),
        details={**audit_details(row), **extra},
    )


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The SQL condition for the sources ``actor`` may see: shared ones and their own."""
    shared = col(AwsCredentialSource.owner_id).is_(None)
    if actor.user_id is None:
        return shared
    return or_(shared, col(AwsCredentialSource.owner_id) == actor.user_id)


async def list_sources(
    session: AsyncSession, actor: Actor, partition: str | None = None
) -> list[AwsCredentialSource]:
    statement = select(AwsCredentialSource).where(visible_to(actor))
    if partition is not None:
        statement = statement.where(AwsCredentialSource.partition_id == partition)
    statement = statement.order_by(col(AwsCredentialSource.name), col(AwsCredentialSource.id))
    return list((await session.exec(statement)).all())


async def get_source(session: AsyncSession, actor: Actor, source_id: int) -> AwsCredentialSource:
    """The source, if ``actor`` may see it; :class:`NotFound` otherwise (a personal source
    of someone else is indistinguishable from a missing one)."""
    row = await session.get(AwsCredentialSource, source_id)
    if row is None or (row.owner_id is not None and row.owner_id != actor.user_id):
        raise NotFound(f"credential source {source_id} does not exist")
    return row


async def find_source(session: AsyncSession, actor: Actor, name_or_id: str) -> AwsCredentialSource:
    """A visible source by id or by name (the CLI's way of naming one)."""
    if name_or_id.isdigit():
        return await get_source(session, actor, int(name_or_id))
    statement = select(AwsCredentialSource).where(
        visible_to(actor), col(AwsCredentialSource.name) == name_or_id
    )
    rows = list((await session.exec(statement)).all())
    if not rows:
        raise NotFound(f"no credential source is named {name_or_id!r}")
    if len(rows) > 1:  # a personal and a shared one with the same name: prefer one's own
        own = [row for row in rows if row.owner_id is not None]
        return own[0] if own else rows[0]
    return rows[0]


def _require_may_change(actor: Actor, row: AwsCredentialSource) -> None:
    if row.owner_id is None and not actor.can(SHARE_CREDENTIALS):
        raise Forbidden(
            f"credential source {row.name!r} is shared; changing shared credentials requires "
            "the permission aws-common:credentials.share"
        )


async def _require_unique_name(
    session: AsyncSession, name: str, owner_id: int | None, exclude: int | None = None
) -> None:
    statement = select(AwsCredentialSource.id).where(AwsCredentialSource.name == name)
    if owner_id is None:
        statement = statement.where(col(AwsCredentialSource.owner_id).is_(None))
    else:
        statement = statement.where(AwsCredentialSource.owner_id == owner_id)
    found = [row_id for row_id in (await session.exec(statement)).all() if row_id != exclude]
    if found:
        whose = "shared" if owner_id is None else "of yours"
        raise Conflict(f"a {whose} credential source is already named {name!r}; choose another")


def _apply_check(row: AwsCredentialSource, check: SourceCheck) -> None:
    row.status = check.status
    row.status_detail = check.detail[:1000]
    row.checked_at = check.checked_at
    if check.identity is not None:
        row.identity_account = check.identity.account
        row.identity_arn = check.identity.arn
    if check.expires_at is not None:
        row.expires_at = check.expires_at


async def create_source(
    session: AsyncSession, clients: AwsClients, actor: Actor, data: CredentialSourceIn
) -> AwsCredentialSource:
    """Validate and save a new source.

    :raises FieldProblem: a bad value, or keys AWS rejected (nothing is saved).
    :raises Forbidden: a shared or host source without the permission to share.
    :raises Conflict: the name is taken, or the partitions were never seeded.
    :raises AwsUnavailable: AWS could not be reached to check the keys.
    """
    partition = check_partition(data.partition)
    await require_seeded(session, partition)
    check_kind_fields(data)
    shared = data.shared or data.kind in HOST_KINDS or actor.user_id is None
    if data.kind in HOST_KINDS and not data.shared and "shared" in data.model_fields_set:
        raise FieldProblem(
            "shared",
            "the default chain and profiles are the host's credentials and always shared",
        )
    if shared and not actor.can(SHARE_CREDENTIALS):
        what = "shared credentials" if data.kind == "keys" else f"a {data.kind} source"
        raise Forbidden(
            f"saving {what} requires the permission aws-common:credentials.share "
            "(administrators have it); save the keys as your own instead"
        )
    owner_id = None if shared else actor.user_id
    await _require_unique_name(session, data.name, owner_id)
    now = datetime.now(UTC)
    row = AwsCredentialSource(
        name=data.name,
        partition_id=partition,
        kind=data.kind,
        profile_name=data.profile_name if data.kind == "profile" else None,
        owner_id=owner_id,
        created_by=actor.audit_name,
        created_at=now,
        updated_at=now,
        expires_at=data.expires_at,
    )
    if data.kind == "keys":
        assert data.access_key_id
        assert data.secret_access_key
        secret = data.secret_access_key.get_secret_value()
        token = data.session_token.get_secret_value() if data.session_token else None
        if data.expires_at is not None and data.expires_at <= now:
            raise FieldProblem("expires_at", "these credentials have already expired")
        identity = await clients.validate_keys(partition, data.access_key_id, secret, token)
        row.access_key_id = data.access_key_id
        row.secret_access_key = secret
        row.session_token = token
        row.status = "valid"
        row.checked_at = datetime.now(UTC)
        row.identity_account = identity.account
        row.identity_arn = identity.arn
    elif data.kind == "profile":
        _require_profile(data.profile_name or "")
    session.add(row)
    await session.flush()
    if data.kind in HOST_KINDS:
        _apply_check(row, await clients.check(source_of(row)))
        session.add(row)
        await session.flush()
    await _audit(session, actor, "create", row)
    return row


def check_kind_fields(data: CredentialSourceIn) -> None:
    """Each kind takes its own fields and no others."""
    if data.kind == "keys":
        for name in ("access_key_id", "secret_access_key"):
            if getattr(data, name) is None:
                raise FieldProblem(name, "is required for kind 'keys'")
        if data.profile_name is not None:
            raise FieldProblem("profile_name", "is only for kind 'profile'")
        return
    for name in ("access_key_id", "secret_access_key", "session_token"):
        if getattr(data, name) is not None:
            raise FieldProblem(name, f"is only for kind 'keys', not {data.kind!r}")
    if data.kind == "profile" and data.profile_name is None:
        raise FieldProblem("profile_name", "is required for kind 'profile'")
    if data.kind == "default" and data.profile_name is not None:
        raise FieldProblem("profile_name", "is only for kind 'profile'")
    if data.expires_at is not None:
        raise FieldProblem("expires_at", "is only for kind 'keys'")


def _require_profile(name: str) -> None:
    from botocore.session import Session

    profiles = Session().available_profiles
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise FieldProblem(
            "profile_name",
            f"profile {name!r} is not in the host's AWS config files (profiles: {known})",
        )


async def update_source(
    session: AsyncSession,
    clients: AwsClients,
    actor: Actor,
    source_id: int,
    patch: CredentialSourcePatch,
) -> AwsCredentialSource:
    """Rename, replace keys (validated like new ones), change expiry, or share/unshare.

    The audit event's ``changed`` names the fields given (``keys`` for new keys).
    """
    row = await get_source(session, actor, source_id)
    _require_may_change(actor, row)
    if patch.name is not None and patch.name != row.name:
        await _require_unique_name(session, patch.name, row.owner_id, exclude=row.id)
        row.name = patch.name
    if patch.secret_access_key is not None or patch.access_key_id is not None:
        if row.kind != "keys":
            raise FieldProblem("access_key_id", f"a {row.kind} source has no access keys")
        if patch.access_key_id is None or patch.secret_access_key is None:
            field_name = "access_key_id" if patch.access_key_id is None else "secret_access_key"
            raise FieldProblem(field_name, "give the access key id and the secret together")
        secret = patch.secret_access_key.get_secret_value()
        token = patch.session_token.get_secret_value() if patch.session_token else None
        identity = await clients.validate_keys(row.partition_id, patch.access_key_id, secret, token)
        row.access_key_id = patch.access_key_id
        row.secret_access_key = secret
        row.session_token = token
        row.status = "valid"
        row.status_detail = ""
        row.checked_at = datetime.now(UTC)
        row.identity_account = identity.account
        row.identity_arn = identity.arn
        row.expires_at = patch.expires_at
    elif patch.session_token is not None:
        raise FieldProblem(
            "session_token", "give it with the access key id and secret it belongs to"
        )
    elif patch.expires_at is not None:
        row.expires_at = patch.expires_at
    if patch.shared is not None and patch.shared != row.shared:
        await _change_sharing(session, actor, row, patch.shared)
    row.updated_at = datetime.now(UTC)
    session.add(row)
    await session.flush()
    assert row.id is not None
    await clients.forget_source(row.id)
    changed = sorted(patch.model_fields_set - {"secret_access_key", "session_token"})
    if patch.secret_access_key is not None:
        changed.append("keys")
    await _audit(session, actor, "update", row, changed=changed)
    return row


async def _change_sharing(
    session: AsyncSession, actor: Actor, row: AwsCredentialSource, shared: bool
) -> None:
    if not actor.can(SHARE_CREDENTIALS):
        raise Forbidden("sharing credentials requires the permission aws-common:credentials.share")
    if shared:
        await _require_unique_name(session, row.name, None, exclude=row.id)
        row.owner_id = None
        return
    if row.kind in HOST_KINDS:
        raise FieldProblem("shared", "the default chain and profiles are always shared")
    if actor.user_id is None:
        raise FieldProblem("shared", "the command line cannot own personal credentials")
    using = await accounts_using(session, row)
    if using:
        raise Conflict(
            f"credential source {row.name!r} reaches account(s) {', '.join(using)}; "
            "only shared sources can reach registry accounts"
        )
    await _require_unique_name(session, row.name, actor.user_id, exclude=row.id)
    row.owner_id = actor.user_id


async def accounts_using(session: AsyncSession, row: AwsCredentialSource) -> list[str]:
    statement = select(AwsAccount.account_id).where(AwsAccount.credential_source_id == row.id)
    return sorted((await session.exec(statement)).all())


async def delete_source(
    session: AsyncSession, clients: AwsClients, actor: Actor, source_id: int
) -> AwsCredentialSource:
    """Remove a source that reaches no registry account; return the removed row."""
    row = await get_source(session, actor, source_id)
    _require_may_change(actor, row)
    using = await accounts_using(session, row)
    if using:
        raise Conflict(
            f"credential source {row.name!r} still reaches account(s) {', '.join(using)}; "
            "change or remove those accounts first"
        )
    await session.delete(row)
    await session.flush()
    await clients.forget_source(source_id)
    await _audit(session, actor, "delete", row, source_id)
    return row


async def refresh_source(
    session: AsyncSession, clients: AwsClients, actor: Actor, source_id: int
) -> AwsCredentialSource:
    """Check the source's identity again and record status, identity and expiry."""
    row = await get_source(session, actor, source_id)
    _apply_check(row, await clients.check(source_of(row)))
    session.add(row)
    await session.flush()
    await _audit(session, actor, "refresh", row)
    return row


def describe(row: AwsCredentialSource) -> str:
    """``'prod' (keys, aws (Commercial), shared)`` for messages."""
    whose = "shared" if row.shared else "personal"
    return f"{row.name!r} ({row.kind}, {partition_label(row.partition_id)}, {whose})"
