"""The plugin's web pages, mounted under ``/tools/aws/common``.

Plain HTML forms (they work without JavaScript, and the strict Content-Security-Policy
allows no inline script): each POST calls the same services as the API, then redirects
with a flash message, or shows the form again with the problems next to the fields. The
services audit every change; the request's session commits it before the response.
Secrets typed into a form are never sent back to the browser.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from pcm_aws_common.dependencies import AwsClientsDep
from pcm_aws_common.ids import MANAGE_ACCOUNTS, MANAGE_CREDENTIALS, READ, SHARE_CREDENTIALS
from pcm_aws_common.schemas import AccountIn, AccountPatch, CredentialSourceIn, ImportSaveIn
from pcm_aws_common.services import accounts, credentials, partitions
from pcm_aws_common.services.errors import AwsCommonError, FieldProblem
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import PathId
from pcm_ops.audit import Actor
from pcm_ops.errors import validation_problems
from pcm_ops.security import Principal, require
from pcm_ops.web import flash, render

router = APIRouter(include_in_schema=False)

PREFIX = "/tools/aws/common"
SECRET_FIELDS = ("secret_access_key", "session_token")

Problems = list[tuple[str, str]]


def _problems(exc: ValidationError | AwsCommonError) -> Problems:
    if isinstance(exc, ValidationError):
        return validation_problems(exc)  # in words, not pydantic's patterns and types
    if isinstance(exc, FieldProblem):
        return [(exc.field, exc.message)]
    return [("form", str(exc))]


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    values: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        items = [item for item in form.getlist(key) if isinstance(item, str)]
        values[key] = items if key in ("regions", "account_ids") else (items[-1] if items else "")
    return values


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise FieldProblem("tags", f"{line!r} is not key=value")
        tags[key.strip()] = value.strip()
    return tags


def _blank_to_none(values: dict[str, Any], *names: str) -> None:
    for name in names:
        if values.get(name) == "":
            values[name] = None


async def _choices(session: Any, principal: Principal) -> dict[str, Any]:
    sources = await credentials.list_sources(session, Actor.from_principal(principal))
    return {
        "partitions": await partitions.list_partitions(session),
        "shared_sources": [source for source in sources if source.shared],
    }


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}{path}", status_code=303)


# -- overview --------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, dependencies=[require(READ)])
async def index(request: Request, session: DbSession) -> HTMLResponse:
    rows = await accounts.list_accounts(session)
    return render(
        request,
        "aws-common/index.html",
        {
            "partitions": await partitions.list_partitions(session),
            "account_counts": {
                pid: sum(1 for row in rows if row.partition_id == pid)
                for pid in partitions.PARTITION_NAMES
            },
        },
    )


# -- credentials -----------------------------------------------------------------------------


async def _credentials_page(
    request: Request,
    session: Any,
    principal: Principal,
    problems: Problems | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "aws-common/credentials.html",
        {
            "sources": await credentials.list_sources(session, Actor.from_principal(principal)),
            "partitions": await partitions.list_partitions(session),
            "can_manage": principal.can(MANAGE_CREDENTIALS),
            "can_share": principal.can(SHARE_CREDENTIALS),
            "problems": problems or [],
            "values": values or {},
        },
        status_code=status_code,
    )


@router.get("/credentials", response_class=HTMLResponse)
async def credentials_page(
    request: Request, session: DbSession, principal: Annotated[Principal, require(READ)]
) -> HTMLResponse:
    return await _credentials_page(request, session, principal)


@router.post("/credentials", response_class=HTMLResponse)
async def add_credentials(
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_CREDENTIALS)],
) -> Any:
    values = await _form(request)
    values["shared"] = values.get("shared") == "on"
    _blank_to_none(
        values, "profile_name", "access_key_id", "secret_access_key", "session_token", "expires_at"
    )
    shown = {key: value for key, value in values.items() if key not in SECRET_FIELDS}
    try:
        data = CredentialSourceIn.model_validate(values)
        actor = Actor.from_principal(principal, request)
        row = await credentials.create_source(session, aws, actor, data)
    except (ValidationError, AwsCommonError) as exc:
        return await _credentials_page(request, session, principal, _problems(exc), shown, 422)
    flash(request, f"Credential source {row.name!r} saved: {row.status}.", "success")
    return _redirect("/credentials")


@router.post("/credentials/{source_id}/refresh")
async def refresh_credentials(
    source_id: PathId,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_CREDENTIALS)],
) -> RedirectResponse:
    try:
        row = await credentials.refresh_source(
            session, aws, Actor.from_principal(principal, request), source_id
        )
    except AwsCommonError as exc:
        flash(request, str(exc), "error")
        return _redirect("/credentials")
    category = "success" if row.status == "valid" else "warning"
    detail = f" ({row.status_detail})" if row.status_detail else ""
    flash(request, f"{row.name}: {row.status}{detail}.", category)
    return _redirect("/credentials")


@router.post("/credentials/{source_id}/delete")
async def delete_credentials(
    source_id: PathId,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_CREDENTIALS)],
) -> RedirectResponse:
    try:
        row = await credentials.delete_source(
            session, aws, Actor.from_principal(principal, request), source_id
        )
    except AwsCommonError as exc:
        flash(request, str(exc), "error")
        return _redirect("/credentials")
    flash(request, f"Credential source {row.name!r} removed.", "success")
    return _redirect("/credentials")


# -- accounts --------------------------------------------------------------------------------


async def _accounts_page(
    request: Request,
    session: Any,
    principal: Principal,
    problems: Problems | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = await accounts.list_accounts(
        session,
        partition=request.query_params.get("partition") or None,
        search=request.query_params.get("q") or None,
    )
    return render(
        request,
        "aws-common/accounts.html",
        {
            "accounts": rows,
            "source_names": await accounts.source_names(session, rows),
            "can_manage": principal.can(MANAGE_ACCOUNTS),
            "problems": problems or [],
            "values": values or {},
            "query": request.query_params.get("q", ""),
            **await _choices(session, principal),
        },
        status_code=status_code,
    )


@router.get("/accounts", response_class=HTMLResponse)
async def accounts_page(
    request: Request, session: DbSession, principal: Annotated[Principal, require(READ)]
) -> HTMLResponse:
    return await _accounts_page(request, session, principal)


def _account_values(values: dict[str, Any]) -> dict[str, Any]:
    data = dict(values)
    data["tags"] = _tags(str(values.get("tags", "")))
    _blank_to_none(data, "role_arn", "external_id", "credential_source_id")
    if data.get("session_duration_seconds") in ("", None):
        data.pop("session_duration_seconds", None)
    return data


@router.post("/accounts", response_class=HTMLResponse)
async def add_account(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> Any:
    values = await _form(request)
    try:
        row = await accounts.create_account(
            session,
            Actor.from_principal(principal, request),
            AccountIn.model_validate(_account_values(values)),
        )
    except (ValidationError, AwsCommonError) as exc:
        return await _accounts_page(request, session, principal, _problems(exc), values, 422)
    flash(request, f"Account {row.account_id} ({row.name}) added.", "success")
    return _redirect(f"/accounts/{row.account_id}")


# The import pages come before /accounts/{account_id}, whose pattern they would match.


@router.get("/accounts/import", response_class=HTMLResponse)
async def import_page(
    request: Request, session: DbSession, principal: Annotated[Principal, require(MANAGE_ACCOUNTS)]
) -> HTMLResponse:
    return render(
        request,
        "aws-common/import.html",
        {
            "values": {"member_role_name": "OrganizationAccountAccessRole"},
            "problems": [],
            "preview": None,
            **await _choices(session, principal),
        },
    )


def _import_values(values: dict[str, Any]) -> dict[str, Any]:
    data = _account_values(values)
    _blank_to_none(data, "management_role_arn", "member_role_name")
    data.pop("account_ids", None)
    return data


@router.post("/accounts/import/preview", response_class=HTMLResponse)
async def import_preview(
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> HTMLResponse:
    from pcm_aws_common.schemas import ImportIn

    values = await _form(request)
    preview = None
    problems: Problems = []
    try:
        data = ImportIn.model_validate(_import_values(values))
        preview = await accounts.preview_import(session, aws, Actor.from_principal(principal), data)
    except (ValidationError, AwsCommonError) as exc:
        problems = _problems(exc)
    return render(
        request,
        "aws-common/import.html",
        {
            "values": values,
            "problems": problems,
            "preview": preview,
            **await _choices(session, principal),
        },
        status_code=422 if problems else 200,
    )


@router.post("/accounts/import", response_class=HTMLResponse)
async def import_save(
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> Any:
    values = await _form(request)
    try:
        data = ImportSaveIn.model_validate(
            {**_import_values(values), "account_ids": values.get("account_ids", [])}
        )
        created, skipped = await accounts.import_accounts(
            session, aws, Actor.from_principal(principal, request), data
        )
    except (ValidationError, AwsCommonError) as exc:
        return render(
            request,
            "aws-common/import.html",
            {
                "values": values,
                "problems": _problems(exc),
                "preview": None,
                **await _choices(session, principal),
            },
            status_code=422,
        )
    message = f"Imported {len(created)} account(s)"
    if skipped:
        message += "; skipped " + ", ".join(f"{account} ({why})" for account, why in skipped)
    flash(request, message + ".", "success")
    return _redirect("/accounts")


async def _account_page(
    request: Request,
    session: Any,
    principal: Principal,
    account_id: str,
    problems: Problems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        row = await accounts.get_account(session, account_id)
    except AwsCommonError as exc:
        flash(request, str(exc), "error")
        return _redirect("/accounts")  # type: ignore[return-value]
    return render(
        request,
        "aws-common/account.html",
        {
            "account": row,
            "source_names": await accounts.source_names(session, [row]),
            "can_manage": principal.can(MANAGE_ACCOUNTS),
            "problems": problems or [],
            **await _choices(session, principal),
        },
        status_code=status_code,
    )


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
async def account_page(
    account_id: str,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(READ)],
) -> HTMLResponse:
    return await _account_page(request, session, principal, account_id)


@router.post("/accounts/{account_id}", response_class=HTMLResponse)
async def change_account(
    account_id: str,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> Any:
    values = _account_values(await _form(request))
    values.setdefault("role_arn", None)
    values.setdefault("external_id", None)
    try:
        patch = AccountPatch.model_validate(values)
        row, changed = await accounts.update_account(
            session, aws, Actor.from_principal(principal, request), account_id, patch
        )
    except (ValidationError, AwsCommonError) as exc:
        return await _account_page(
            request, session, principal, account_id, _problems(exc), status_code=422
        )
    flash(request, "Saved." if changed else "Nothing changed.", "success")
    return _redirect(f"/accounts/{row.account_id}")


@router.post("/accounts/{account_id}/check")
async def check_account(
    account_id: str,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(READ)],
) -> RedirectResponse:
    # Post/redirect/get: the result comes back as a flash on the account page, whose
    # address reloads (this one answers only POST).
    try:
        await accounts.get_account(session, account_id)
    except AwsCommonError as exc:
        flash(request, str(exc), "error")
        return _redirect("/accounts")
    result = await accounts.check_access(aws, account_id, principal.username)
    if result.ok:
        flash(request, f"Reached account {account_id} as {result.identity_arn}.", "success")
    else:
        flash(request, f"Cannot reach account {account_id}: {result.detail}", "error")
    return _redirect(f"/accounts/{account_id}")


@router.post("/accounts/{account_id}/delete")
async def remove_account(
    account_id: str,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_ACCOUNTS)],
) -> RedirectResponse:
    try:
        row = await accounts.delete_account(
            session, aws, Actor.from_principal(principal, request), account_id
        )
    except AwsCommonError as exc:
        flash(request, str(exc), "error")
        return _redirect("/accounts")
    flash(request, f"Account {account_id} ({row.name}) removed.", "success")
    return _redirect("/accounts")
