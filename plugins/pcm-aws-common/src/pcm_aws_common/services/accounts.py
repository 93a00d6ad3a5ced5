"""The accounts registry: validation, changes, access checks and Organizations import.

Every rule that is not a plain type or length lives here, so the API, the pages and the CLI
refuse the same things with the same messages: the account id is 12 digits, the regions
belong to the account's partition, the credential source is shared and of the same
partition, and the role ARN is in the account itself and in its partition.

Every change (:func:`create_account`, :func:`update_account`, :func:`delete_account`,
:func:`import_accounts`) is written to the audit log in the caller's transaction
(``object_type`` ``aws-account``; details: :func:`audit_details`) by the service itself,
so the API, the pages and the CLI record it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pcm_aws_common.ids import ACCOUNT_ACTION
from pcm_aws_common.models import AwsAccount, AwsCredentialSource
from pcm_aws_common.schemas import (
    AccountIn,
    AccountPatch,
    ImportIn,
    ImportSaveIn,
    role_arn_parts,
)
from pcm_aws_common.services.errors import (
    AwsCommonError,
    Conflict,
    FieldProblem,
    NotFound,
)
from pcm_aws_common.services.partitions import (
    DEFAULT_REGIONS,
    check_partition,
    check_regions,
    partition_label,
    require_seeded,
)
from pcm_ops.audit import Actor, record_by

if TYPE_CHECKING:
    from pcm_aws_common.services.clients import AwsClients

#: The audit log's ``object_type`` of a registry account.
OBJECT_TYPE = "aws-account"


def audit_details(row: AwsAccount) -> dict[str, Any]:
    """What the audit log keeps of an account."""
    return {
        "name": row.name,
        "partition": row.partition_id,
        "regions": list(row.regions),
        "credential_source_id": row.credential_source_id,
        "role_arn": row.role_arn,
        "origin": row.origin,
    }


async def _audit(
    session: AsyncSession, actor: Actor, action: str, row: AwsAccount, **extra: Any
) -> None:
    await record_by(
        session,
        actor,
        f"{ACCOUNT_ACTION}.{action}",
        object_type=OBJECT_TYPE,
        object_id=row.account_id,
        details={**audit_details(row), **extra},
    )


async def list_accounts(
    session: AsyncSession,
    *,
    partition: str | None = None,
    tags: dict[str, str] | None = None,
    search: str | None = None,
) -> list[AwsAccount]:
    statement = select(AwsAccount).order_by(col(AwsAccount.name), col(AwsAccount.account_id))
    if partition:
        statement = statement.where(AwsAccount.partition_id == partition)
    rows = list((await session.exec(statement)).all())
    wanted = tags or {}
    needle = (search or "").casefold()
    return [
        row
        for row in rows
        if all(row.tags.get(key) == value for key, value in wanted.items())
        and (not needle or needle in row.name.casefold() or needle in row.account_id)
    ]


async def get_account(session: AsyncSession, account_id: str) -> AwsAccount:
    statement = select(AwsAccount).where(AwsAccount.account_id == account_id)
    row = (await session.exec(statement)).first()
    if row is None:
        raise NotFound(f"account {account_id} is not in the registry")
    return row


async def source_names(session: AsyncSession, rows: list[AwsAccount]) -> dict[int, str]:
    ids = {row.credential_source_id for row in rows}
    if not ids:
        return {}
    statement = select(AwsCredentialSource.id, AwsCredentialSource.name).where(
        col(AwsCredentialSource.id).in_(ids)
    )
    found = (await session.exec(statement)).all()
    return {source_id: name for source_id, name in found if source_id is not None}


async def _check_source(
    session: AsyncSession, source_id: int, partition: str, field: str = "credential_source_id"
) -> AwsCredentialSource:
    source = await session.get(AwsCredentialSource, source_id)
    if source is None or source.owner_id is not None:
        # A personal source of someone else must not be told apart from a missing one.
        raise FieldProblem(
            field,
            f"credential source {source_id} is not a shared credential source; registry "
            "accounts are reached with shared sources (an administrator saves them)",
        )
    if source.partition_id != partition:
        raise FieldProblem(
            field,
            f"credential source {source.name!r} is in partition "
            f"{partition_label(source.partition_id)} but the account is in "
            f"{partition_label(partition)}; AssumeRole never crosses a partition boundary",
        )
    return source


def _check_role(role_arn: str | None, account_id: str, partition: str, field: str) -> None:
    if role_arn is None:
        return
    role_partition, role_account = role_arn_parts(role_arn)
    if role_partition != partition:
        raise FieldProblem(
            field,
            f"the role ARN is in partition {partition_label(role_partition)} but the account "
            f"is in {partition_label(partition)}; AssumeRole never crosses a partition "
            f"boundary (write arn:{partition}:iam::...)",
        )
    if role_account != account_id:
        raise FieldProblem(
            field, f"the role belongs to account {role_account}, not to account {account_id}"
        )


async def create_account(
    session: AsyncSession, actor: Actor, data: AccountIn, origin: str = "manual"
) -> AwsAccount:
    """Validate and add an account, and audit it.

    :raises FieldProblem: a value breaks a rule (the field is named).
    :raises Conflict: the account is already registered.
    """
    row = await _add_account(session, data, origin)
    await _audit(session, actor, "create", row)
    return row


async def _add_account(session: AsyncSession, data: AccountIn, origin: str) -> AwsAccount:
    partition = check_partition(data.partition)
    await require_seeded(session, partition)
    regions = await check_regions(session, partition, data.regions)
    await _check_source(session, data.credential_source_id, partition)
    _check_role(data.role_arn, data.account_id, partition, "role_arn")
    if data.external_id and not data.role_arn:
        raise FieldProblem("external_id", "an external id is only used with role_arn")
    existing = (
        await session.exec(select(AwsAccount).where(AwsAccount.account_id == data.account_id))
    ).first()
    if existing is not None:
        raise Conflict(f"account {data.account_id} is already registered as {existing.name!r}")
    now = datetime.now(UTC)
    row = AwsAccount(
        account_id=data.account_id,
        name=data.name,
        partition_id=partition,
        regions=regions,
        tags=dict(data.tags),
        credential_source_id=data.credential_source_id,
        role_arn=data.role_arn,
        external_id=data.external_id,
        session_duration_seconds=data.session_duration_seconds,
        description=data.description,
        origin=origin,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def update_account(
    session: AsyncSession, clients: AwsClients, actor: Actor, account_id: str, patch: AccountPatch
) -> tuple[AwsAccount, list[str]]:
    """Apply ``patch``; return the row and the names of the fields that changed (audited
    when there are any)."""
    row = await get_account(session, account_id)
    given = patch.model_fields_set
    changed: list[str] = []
    if "regions" in given and patch.regions is not None:
        regions = await check_regions(session, row.partition_id, patch.regions)
        if regions != row.regions:
            row.regions = regions
            changed.append("regions")
    if "credential_source_id" in given and patch.credential_source_id is not None:
        await _check_source(session, patch.credential_source_id, row.partition_id)
        if patch.credential_source_id != row.credential_source_id:
            row.credential_source_id = patch.credential_source_id
            changed.append("credential_source_id")
    if "role_arn" in given:
        _check_role(patch.role_arn, row.account_id, row.partition_id, "role_arn")
        if patch.role_arn != row.role_arn:
            row.role_arn = patch.role_arn
            changed.append("role_arn")
    simple = ("name", "tags", "external_id", "session_duration_seconds", "description")
    for name in simple:
        if name not in given:
            continue
        value = getattr(patch, name)
        if value is None and name not in ("external_id",):
            raise FieldProblem(name, "must not be null")
        if value != getattr(row, name):
            setattr(row, name, value)
            changed.append(name)
    if row.external_id and not row.role_arn:
        raise FieldProblem("external_id", "an external id is only used with role_arn")
    if changed:
        row.updated_at = datetime.now(UTC)
        session.add(row)
        await session.flush()
        await clients.forget_account(account_id)
        await _audit(session, actor, "update", row, changed=changed)
    return row, changed


async def delete_account(
    session: AsyncSession, clients: AwsClients, actor: Actor, account_id: str
) -> AwsAccount:
    """Remove an account from the registry, and audit it; return the removed row."""
    row = await get_account(session, account_id)
    await session.delete(row)
    await session.flush()
    await clients.forget_account(account_id)
    await _audit(session, actor, "delete", row)
    return row


@dataclass(frozen=True)
class AccessCheck:
    account_id: str
    ok: bool
    identity_account: str | None = None
    identity_arn: str | None = None
    detail: str = ""


async def check_access(clients: AwsClients, account_id: str, user: str | None) -> AccessCheck:
    """Reach the account as the client factory would and say who AWS thinks we are."""
    await clients.forget_account(account_id)
    try:
        identity = await clients.caller_identity(account=account_id, user=user)
    except AwsCommonError as exc:
        return AccessCheck(account_id, False, detail=str(exc))
    except Exception as exc:
        from pcm_aws_common.services.clients import aws_error

        code, message = aws_error(exc)
        return AccessCheck(account_id, False, detail=f"{code}: {message}")
    if identity.account != account_id:
        return AccessCheck(
            account_id,
            False,
            identity.account,
            identity.arn,
            f"the credentials belong to account {identity.account}, not {account_id}; set a "
            "role ARN in this account or use a source of this account",
        )
    return AccessCheck(account_id, True, identity.account, identity.arn)


# -- Organizations import ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrgAccount:
    account_id: str
    name: str
    email: str
    status: str
    management: bool
    registered: bool
    role_arn: str | None

    @property
    def importable(self) -> bool:
        return self.status == "ACTIVE" and not self.registered

    @property
    def reason(self) -> str:
        if self.registered:
            return "already in the registry"
        if self.status != "ACTIVE":
            return f"status {self.status}"
        return ""


@dataclass(frozen=True)
class ImportPreview:
    partition: str
    management_account: str
    accounts: list[OrgAccount]


async def preview_import(
    session: AsyncSession, clients: AwsClients, actor: Actor, data: ImportIn
) -> ImportPreview:
    """List the organization's accounts (every page of ListAccounts) without saving; AWS
    sees ``actor``'s name in the role session."""
    source = await _check_source_for_import(session, data)
    partition = source.partition_id
    await check_regions(session, partition, data.regions)
    if data.management_role_arn is not None:
        role_partition, _ = role_arn_parts(data.management_role_arn)
        if role_partition != partition:
            raise FieldProblem(
                "management_role_arn",
                f"the role is in partition {partition_label(role_partition)} but the source "
                f"is in {partition_label(partition)}; AssumeRole never crosses a partition "
                "boundary",
            )
    target: dict[str, Any] = {
        "source": source.id,
        "role_arn": data.management_role_arn,
        "region": DEFAULT_REGIONS[partition],
        "user": actor.name,
    }
    listed: list[dict[str, Any]] = []
    async with clients.client("organizations", **target) as organizations:
        paginator = organizations.get_paginator("list_accounts")
        pages = paginator.paginate(
            PaginationConfig={"PageSize": clients.config.organizations_page_size}
        )
        async for page in pages:
            listed.extend(page.get("Accounts", []))
        description = await organizations.describe_organization()
    management = description["Organization"]["MasterAccountId"]
    registered = set((await session.exec(select(AwsAccount.account_id))).all())
    accounts = [
        OrgAccount(
            account_id=item["Id"],
            name=item.get("Name", item["Id"]),
            email=item.get("Email", ""),
            status=item.get("Status", "ACTIVE"),
            management=item["Id"] == management,
            registered=item["Id"] in registered,
            role_arn=_member_role_arn(data, partition, item["Id"], management),
        )
        for item in listed
    ]
    accounts.sort(key=lambda account: (account.name.casefold(), account.account_id))
    return ImportPreview(partition, management, accounts)


def _member_role_arn(
    data: ImportIn, partition: str, account_id: str, management: str
) -> str | None:
    if account_id == management:
        # The management account is reached the way the organization was read.
        return data.management_role_arn
    if data.member_role_name is None:
        return None
    return f"arn:{partition}:iam::{account_id}:role/{data.member_role_name}"


async def _check_source_for_import(session: AsyncSession, data: ImportIn) -> AwsCredentialSource:
    source = await session.get(AwsCredentialSource, data.credential_source_id)
    if source is None or source.owner_id is not None:
        raise FieldProblem(
            "credential_source_id",
            f"credential source {data.credential_source_id} is not a shared credential source",
        )
    return source


async def import_accounts(
    session: AsyncSession, clients: AwsClients, actor: Actor, data: ImportSaveIn
) -> tuple[list[AwsAccount], list[tuple[str, str]]]:
    """Save the chosen accounts of the organization; return (created, skipped with reason).

    The organization is read again, so only accounts it really has are saved, with the
    names AWS gives them. Each saved account is audited as an import.
    """
    preview = await preview_import(session, clients, actor, data)
    by_id = {account.account_id: account for account in preview.accounts}
    unknown = [account_id for account_id in data.account_ids if account_id not in by_id]
    if unknown:
        raise FieldProblem(
            "account_ids",
            f"not in the organization: {', '.join(unknown)}; preview the import again",
        )
    created: list[AwsAccount] = []
    skipped: list[tuple[str, str]] = []
    for account_id in dict.fromkeys(data.account_ids):
        account = by_id[account_id]
        if not account.importable:
            skipped.append((account_id, account.reason))
            continue
        row = await _add_account(
            session,
            AccountIn(
                account_id=account_id,
                name=account.name[:100],
                partition=preview.partition,
                regions=data.regions,
                tags=data.tags,
                credential_source_id=data.credential_source_id,
                role_arn=account.role_arn,
                external_id=data.external_id if account.role_arn else None,
                session_duration_seconds=data.session_duration_seconds,
                description=f"Imported from AWS Organizations ({account.email})"[:500],
            ),
            origin="organizations",
        )
        await _audit(session, actor, "import", row)
        created.append(row)
    return created, skipped
