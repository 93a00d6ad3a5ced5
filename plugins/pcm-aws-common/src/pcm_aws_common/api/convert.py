"""Table rows to response models. Secrets become ``"set"``; nothing else of them leaves."""

from __future__ import annotations

from pcm_aws_common.models import AwsAccount, AwsCredentialSource
from pcm_aws_common.schemas import AccountOut, CredentialSourceOut
from pcm_aws_common.services.partitions import PARTITION_NAMES


def _set(value: str | None) -> str | None:
    return "set" if value else None


def source_out(row: AwsCredentialSource) -> CredentialSourceOut:
    assert row.id is not None
    return CredentialSourceOut(
        id=row.id,
        name=row.name,
        partition=row.partition_id,
        partition_name=PARTITION_NAMES.get(row.partition_id, row.partition_id),
        kind=row.kind,
        profile_name=row.profile_name,
        shared=row.shared,
        access_key_id=_set(row.access_key_id),
        secret_access_key=_set(row.secret_access_key),
        session_token=_set(row.session_token),
        status=row.status,
        status_detail=row.status_detail,
        identity_account=row.identity_account,
        identity_arn=row.identity_arn,
        expires_at=row.expires_at,
        checked_at=row.checked_at,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def account_out(row: AwsAccount, source_name: str) -> AccountOut:
    return AccountOut(
        account_id=row.account_id,
        name=row.name,
        partition=row.partition_id,
        partition_name=PARTITION_NAMES.get(row.partition_id, row.partition_id),
        regions=list(row.regions),
        tags=dict(row.tags),
        credential_source_id=row.credential_source_id,
        credential_source_name=source_name,
        access="role" if row.role_arn else "direct",
        role_arn=row.role_arn,
        external_id=row.external_id,
        session_duration_seconds=row.session_duration_seconds,
        description=row.description,
        origin=row.origin,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
