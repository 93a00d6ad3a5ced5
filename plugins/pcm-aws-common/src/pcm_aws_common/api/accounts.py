"""``/accounts``: the accounts registry, access checks and AWS Organizations import.

The services audit every change; the request's session commits it before the response.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from pcm_aws_common.api.convert import account_out
from pcm_aws_common.api.errors import RESPONSES
from pcm_aws_common.dependencies import AwsClientsDep
from pcm_aws_common.ids import MANAGE_ACCOUNTS, READ
from pcm_aws_common.patterns import ACCOUNT_ID_PATTERN
from pcm_aws_common.schemas import (
    AccountCheckOut,
    AccountIn,
    AccountOut,
    AccountPatch,
    ImportIn,
    ImportOut,
    ImportPreviewOut,
    ImportSaveIn,
    ImportSkipped,
    OrgAccountOut,
)
from pcm_aws_common.services import accounts
from pcm_aws_common.services.errors import FieldProblem
from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import service_errors
from pcm_ops.audit import Actor
from pcm_ops.security import Principal, require

router = APIRouter()

AccountId = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, description="12 digits.")]


def _parse_tags(tag: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in tag:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise FieldProblem("tag", f"{item!r} is not key=value")
        parsed[key] = value
    return parsed


async def _out(session: Any, row: Any) -> AccountOut:
    names = await accounts.source_names(session, [row])
    return account_out(row, names.get(row.credential_source_id, ""))


@router.get(
    "/accounts",
    response_model=list[AccountOut],
    summary="Registry accounts",
    dependencies=[require(READ)],
    responses=RESPONSES,
)
async def list_accounts(
    session: DbSession,
    partition: str | None = None,
    tag: Annotated[list[str], Query(description="key=value; repeat to require several")] = [],  # noqa: B006
    q: str | None = Query(default=None, description="Part of the name or account id."),
) -> Any:
    with service_errors():
        tags = _parse_tags(tag)
    rows = await accounts.list_accounts(session, partition=partition, tags=tags, search=q)
    names = await accounts.source_names(session, rows)
    return [account_out(row, names.get(row.credential_source_id, "")) for row in rows]


@router.post(
    "/accounts",
    response_model=AccountOut,
    status_code=201,
    summary="Add an account",
    responses=RESPONSES,
)
async def create_account(
    body: AccountIn,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> Any:
    with service_errors():
        row = await accounts.create_account(session, Actor.from_principal(principal, request), body)
    return await _out(session, row)


@router.post(
    "/accounts/import/preview",
    response_model=ImportPreviewOut,
    summary="List the accounts of an AWS organization, to choose which to import",
    responses=RESPONSES,
)
async def preview_import(
    body: ImportIn,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> Any:
    with service_errors():
        preview = await accounts.preview_import(session, aws, Actor.from_principal(principal), body)
    return ImportPreviewOut(
        partition=preview.partition,
        management_account=preview.management_account,
        accounts=[
            OrgAccountOut(
                account_id=account.account_id,
                name=account.name,
                email=account.email,
                status=account.status,
                management=account.management,
                registered=account.registered,
                importable=account.importable,
                reason=account.reason,
                role_arn=account.role_arn,
            )
            for account in preview.accounts
        ],
    )


@router.post(
    "/accounts/import",
    response_model=ImportOut,
    status_code=201,
    summary="Import chosen accounts of an AWS organization",
    responses=RESPONSES,
)
async def import_accounts(
    body: ImportSaveIn,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> Any:
    with service_errors():
        created, skipped = await accounts.import_accounts(
            session, aws, Actor.from_principal(principal, request), body
        )
    names = await accounts.source_names(session, created)
    return ImportOut(
        created=[account_out(row, names.get(row.credential_source_id, "")) for row in created],
        skipped=[
            ImportSkipped(account_id=account_id, reason=reason) for account_id, reason in skipped
        ],
    )


@router.get(
    "/accounts/{account_id}",
    response_model=AccountOut,
    summary="One account",
    dependencies=[require(READ)],
    responses=RESPONSES,
)
async def get_account(account_id: AccountId, session: DbSession) -> Any:
    with service_errors():
        row = await accounts.get_account(session, account_id)
    return await _out(session, row)


@router.patch(
    "/accounts/{account_id}",
    response_model=AccountOut,
    summary="Change an account",
    responses=RESPONSES,
)
async def update_account(
    account_id: AccountId,
    body: AccountPatch,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> Any:
    with service_errors():
        row, _ = await accounts.update_account(
            session, aws, Actor.from_principal(principal, request), account_id, body
        )
    return await _out(session, row)


@router.delete(
    "/accounts/{account_id}",
    status_code=204,
    summary="Remove an account from the registry",
    responses=RESPONSES,
)
async def delete_account(
    account_id: AccountId,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> None:
    with service_errors():
        await accounts.delete_account(
            session, aws, Actor.from_principal(principal, request), account_id
        )


@router.post(
    "/accounts/{account_id}/check",
    response_model=AccountCheckOut,
    summary="Reach the account as the client factory does and say who AWS sees",
    responses=RESPONSES,
)
async def check_account(
    account_id: AccountId,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(READ)],
) -> Any:
    with service_errors():
        await accounts.get_account(session, account_id)
    result = await accounts.check_access(aws, account_id, principal.username)
    return AccountCheckOut(
        account_id=result.account_id,
        ok=result.ok,
        identity_account=result.identity_account,
        identity_arn=result.identity_arn,
        detail=result.detail,
    )
