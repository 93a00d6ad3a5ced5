"""``/credentials``: credential sources.

A user sees the shared sources and their own; entered keys are validated with
sts:GetCallerIdentity before they are saved, stored encrypted, and never returned.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from pcm_aws_common.api.convert import source_out
from pcm_aws_common.api.errors import RESPONSES
from pcm_aws_common.dependencies import AwsClientsDep
from pcm_aws_common.ids import MANAGE_CREDENTIALS, READ, SHARE_CREDENTIALS
from pcm_aws_common.schemas import CredentialSourceIn, CredentialSourceOut, CredentialSourcePatch
from pcm_aws_common.services import credentials
from pcm_aws_common.services.credentials import Actor
from pcm_ops import audit
from pcm_ops.api.deps import DbSession
from pcm_ops.api.errors import service_errors
from pcm_ops.api.params import PathId
from pcm_ops.security import Principal, require

router = APIRouter()

ACTION = "aws-common.credentials"
SourceId = Annotated[PathId, Path(description="The credential source's id.")]


def _actor(principal: Principal) -> Actor:
    return Actor.from_principal(principal, SHARE_CREDENTIALS)


def _details(row: Any) -> dict[str, Any]:
    """What the audit log keeps of a source: never a secret."""
    return {
        "name": row.name,
        "kind": row.kind,
        "partition": row.partition_id,
        "shared": row.shared,
        "status": row.status,
        "identity_arn": row.identity_arn,
    }


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
    rows = await credentials.list_sources(session, _actor(principal), partition)
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
        row = await credentials.create_source(session, aws, _actor(principal), body)
    await audit.record(
        session,
        request,
        f"{ACTION}.create",
        object_type="aws-credential-source",
        object_id=str(row.id),
        details=_details(row),
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
        return source_out(await credentials.get_source(session, _actor(principal), source_id))


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
        row = await credentials.update_source(session, aws, _actor(principal), source_id, body)
    changed = sorted(body.model_fields_set - {"secret_access_key", "session_token"})
    if body.secret_access_key is not None:
        changed.append("keys")
    await audit.record(
        session,
        request,
        f"{ACTION}.update",
        object_type="aws-credential-source",
        object_id=str(row.id),
        details={**_details(row), "changed": changed},
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
        row = await credentials.delete_source(session, aws, _actor(principal), source_id)
    await audit.record(
        session,
        request,
        f"{ACTION}.delete",
        object_type="aws-credential-source",
        object_id=str(source_id),
        details=_details(row),
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
        row = await credentials.refresh_source(session, aws, _actor(principal), source_id)
    await audit.record(
        session,
        request,
        f"{ACTION}.refresh",
        object_type="aws-credential-source",
        object_id=str(row.id),
        details=_details(row),
    )
    return source_out(row)
