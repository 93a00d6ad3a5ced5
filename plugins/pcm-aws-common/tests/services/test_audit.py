"""The services write each change and its audit event together, in the caller's transaction,
so the API, the pages, the CLI and demo mode record a change the same way."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from pcm_aws_common.models import AwsAccount
from pcm_aws_common.schemas import AccountIn
from pcm_aws_common.services import accounts
from pcm_ops.audit import Actor, AuditEvent


class Abandoned(Exception):
    """Raised inside the transaction to roll it back."""


def _account(source_id: int) -> AccountIn:
    return AccountIn(
        account_id="222222222222",
        name="Member",
        partition="aws",
        regions=["us-east-1"],
        credential_source_id=source_id,
    )


async def _events(api: Any, action: str) -> list[AuditEvent]:
    async with api.database.session() as session:
        statement = select(AuditEvent).where(AuditEvent.action == action)
        return list((await session.exec(statement)).all())


async def test_a_service_audits_its_change_as_the_actor_it_is_given(api):
    source = await api.add_keys("org")

    async with api.database.session() as session:
        row = await accounts.create_account(session, Actor.system("tester"), _account(source["id"]))
        details = accounts.audit_details(row)

    [event] = await _events(api, "aws-common.account.create")
    assert (event.actor, event.object_type, event.object_id, event.details) == (
        "tester",
        "aws-account",
        "222222222222",
        details,
    )


async def test_a_change_and_its_audit_event_roll_back_together(api):
    source = await api.add_keys("org")

    async def add_then_fail() -> None:
        async with api.database.session() as session:
            await accounts.create_account(session, Actor.system("tester"), _account(source["id"]))
            raise Abandoned

    with pytest.raises(Abandoned):
        await add_then_fail()

    async with api.database.session() as session:
        assert (await session.exec(select(AwsAccount))).all() == []
    assert await _events(api, "aws-common.account.create") == []


async def test_a_change_through_the_api_is_audited_with_the_principal_and_address(api):
    source = await api.add_keys("org")

    await api.add_account(**_account(source["id"]).model_dump(mode="json"))

    [event] = await _events(api, "aws-common.account.create")
    [created] = await _events(api, "aws-common.credentials.create")
    assert event.actor == created.actor
    assert event.user_id is not None
    assert event.client_address is not None
    assert event.details["origin"] == "manual"
