"""``/credentials``: credential sources.

A user sees the shared sources and their own; entered keys are validated with
sts:GetCallerIdentity before they are saved, stored encrypted, and never returned. The
services audit every change; the request's session commits it before the response.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from pcm_aws_common.api.convert import source_out
from pcm_aws_common.api.errors import RESPONSES
from pcm_aws_common.dependencies import AwsClientsDep
from pcm_aws_common.ids import MANAGE_CREDENTIALS, READ
from pcm_aws_common.schemas import CredentialSourceIn, CredentialSourceOut, CredentialSourcePatch
from pcm_aws_common.services import credentials
from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import service_errors
from pcm_ops.api.params import PathId
from pcm_ops.audit import Actor
from pcm_ops.security import Principal, require

router = APIRouter()

SourceId = Annotated[PathId, Path(description="The credential source's id.")]


@router.get(
    "/credentials",
    response_model=list[CredentialSourceOut],
    summary="Credential sources: the shared ones and your own",
)
async def list_sources(
    session: DbSession,
    principal: Annotated[Principal, require(READ)],
    partition: str | None = None,
) -> Any:
    rows = await credentials.list_sources(session, Actor.from_principal(principal), partition)
    return [source_out(row) for row in rows]


@router.post(
    "/credentials",
    response_model=CredentialSourceOut,
    status_code=201,
    summary="Add a credential source (keys are validated with AWS before saving)",
    responses=RESPONSES,
)
async def create_source(
    body: CredentialSourceIn,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_CREDENTIALS)],
) -> Any:
    with service_errors():
        row = await credentials.create_source(
            session, aws, Actor.from_principal(principal, request), body
        )
    return source_out(row)


@router.get(
    "/credentials/{source_id}",
    response_model=CredentialSourceOut,
    summary="One credential source",
    responses=RESPONSES,
)
async def get_source(
    source_id: SourceId, session: DbSession, principal: Annotated[Principal, require(READ)]
) -> Any:
    with service_errors():
        row = await credentials.get_source(session, Actor.from_principal(principal), source_id)
    return source_out(row)


@router.patch(
    "/credentials/{source_id}",
    response_model=CredentialSourceOut,
    summary="Rename, replace the keys, or share a credential source",
    responses=RESPONSES,
)
async def update_source(
    source_id: SourceId,
    body: CredentialSourcePatch,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_CREDENTIALS)],
) -> Any:
    with service_errors():
        row = await credentials.update_source(
            session, aws, Actor.from_principal(principal, request), source_id, body
        )
    return source_out(row)


@router.delete(
    "/credentials/{source_id}",
    status_code=204,
    summary="Remove a credential source",
    responses=RESPONSES,
)
async def delete_source(
    source_id: SourceId,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_CREDENTIALS)],
) -> None:
    with service_errors():
        await credentials.delete_source(
            session, aws, Actor.from_principal(principal, request), source_id
        )


@router.post(
    "/credentials/{source_id}/refresh",
    response_model=CredentialSourceOut,
    summary="Check a credential source's identity, status and expiry again",
    responses=RESPONSES,
)
async def refresh_source(
    source_id: SourceId,
    request: Request,
    session: DbSession,
    aws: AwsClientsDep,
    principal: Annotated[Principal, require(MANAGE_CREDENTIALS)],
) -> Any:
    with service_errors():
        row = await credentials.refresh_source(
            session, aws, Actor.from_principal(principal, request), source_id
        )
    return source_out(row)
