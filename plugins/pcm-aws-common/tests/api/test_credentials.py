"""``/credentials``: entered keys are validated with AWS, stored encrypted, never returned,
and belong to the user who entered them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def test_valid_keys_are_validated_and_saved_with_their_identity(api):
    management = api.moto.account("management")

    source = await api.add_keys("prod", user="operator", shared=False)

    assert (source["status"], source["identity_account"], source["identity_arn"]) == (
        "valid",
        "111111111111",
        management.user_arn,
    )
    assert (source["shared"], source["partition_name"], source["checked_at"] is not None) == (
        False,
        "Commercial",
        True,
    )
    listed = await api.get("/credentials", "operator")
    assert [item["name"] for item in listed.json()] == ["prod"]


async def test_unknown_keys_are_rejected_with_aws_reason_and_nothing_is_saved(api):
    response = await api.post(
        "/credentials",
        "operator",
        json={
            "name": "bogus",
            "partition": "aws",
            "access_key_id": "AKIAIOSFODNN7BOGUS00",
            "secret_access_key": "not-a-real-secret",
        },
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "access_key_id"]
    assert error["msg"] == (
        "AWS rejected these credentials: InvalidClientTokenId: The security token included "
        "in the request is invalid."
    )
    assert (await api.get("/credentials", "operator")).json() == []


@SQLITE_ONLY
async def test_a_wrong_secret_is_rejected_as_a_signature_mismatch(api):
    management = api.moto.account("management")

    response = await api.post(
        "/credentials",
        "operator",
        json={
            "name": "typo",
            "partition": "aws",
            "access_key_id": management.access_key_id,
            "secret_access_key": "wrong" * 8,
        },
    )

    [error] = response.json()["detail"]
    assert (response.status_code, error["loc"]) == (422, ["body", "secret_access_key"])
    assert "SignatureDoesNotMatch" in error["msg"]


@SQLITE_ONLY
async def test_expired_temporary_keys_are_rejected_as_expired(api, aio_session):
    govcloud = api.moto.account("govcloud")
    api.moto.set_assume_role_duration(1)
    async with aio_session.create_client(
        "sts",
        region_name="us-gov-west-1",
        endpoint_url=api.moto.endpoint_url,
        **govcloud.credentials,
    ) as sts:
        assumed = await sts.assume_role(RoleArn=govcloud.role_arn, RoleSessionName="temp")
    credentials = assumed["Credentials"]
    import asyncio

    await asyncio.sleep(1.1)

    response = await api.post(
        "/credentials",
        "operator",
        json={
            "name": "stale",
            "partition": "aws-us-gov",
            "access_key_id": credentials["AccessKeyId"],
            "secret_access_key": credentials["SecretAccessKey"],
            "session_token": credentials["SessionToken"],
        },
    )

    [error] = response.json()["detail"]
    assert (response.status_code, error["loc"]) == (422, ["body", "session_token"])
    assert error["msg"].startswith("AWS rejected these credentials: ExpiredToken")


@SQLITE_ONLY
async def test_keys_of_a_govcloud_account_validate_in_govcloud(api):
    source = await api.add_keys("gov", "govcloud", user="operator", shared=False)

    assert source["identity_arn"] == "arn:aws-us-gov:iam::333333333333:user/pcm-ops"
    assert source["partition_name"] == "GovCloud"


async def test_secrets_appear_neither_in_the_database_nor_in_any_response(api, pcm_settings):
    management = api.moto.account("management")
    responses = [
        await api.post(
            "/credentials",
            "admin",
            json={
                "name": "shared-prod",
                "partition": "aws",
                "shared": True,
                "access_key_id": management.access_key_id,
                "secret_access_key": management.secret_access_key,
            },
        )
    ]
    source_id = responses[0].json()["id"]
    responses += [
        await api.get("/credentials"),
        await api.get(f"/credentials/{source_id}"),
        await api.post(f"/credentials/{source_id}/refresh"),
        await api.patch(f"/credentials/{source_id}", json={"name": "renamed"}),
        await api.page("/tools/aws/common/credentials"),
        await api.page("/api/audit"),
    ]
    for response in responses:
        assert response.status_code < 300, response.text
        assert management.secret_access_key not in response.text
        assert management.access_key_id not in response.text
    assert responses[1].json()[0]["secret_access_key"] == "set"

    async with api.database.engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT access_key_id, secret_access_key FROM aws_common_credential_source")
            )
        ).one()
    assert all(value.startswith("fernet:") for value in stored)
    if pcm_settings.is_sqlite:
        database_file = Path(pcm_settings.effective_database_url.split("///", 1)[1])
        raw = b"".join(
            path.read_bytes()
            for path in database_file.parent.glob("pcm-ops.db*")
            if path.is_file()  # not the wake-up registry folder beside it
        )
        assert management.secret_access_key.encode() not in raw
        assert management.access_key_id.encode() not in raw


async def test_one_user_cannot_see_or_use_another_users_credentials(api):
    source = await api.add_keys("mine", user="operator", shared=False)
    path = f"/credentials/{source['id']}"

    assert (await api.get("/credentials", "operator2")).json() == []
    assert (await api.get("/credentials", "admin")).json() == []
    assert (await api.get(path, "operator2")).status_code == 404
    assert (await api.post(f"{path}/refresh", "operator2")).status_code == 404
    assert (await api.patch(path, "operator2", json={"name": "stolen"})).status_code == 404
    assert (await api.delete(path, "operator2")).status_code == 404
    assert (await api.get(path, "operator")).status_code == 200


async def test_the_owner_may_use_personal_credentials_through_the_factory(api):
    from pcm_aws_common.services.errors import SourceNotFound

    source = await api.add_keys("mine", user="operator", shared=False)
    async with api.database.engine.connect() as connection:
        owner_id = (
            await connection.execute(
                text("SELECT owner_id FROM aws_common_credential_source WHERE id = :id"),
                {"id": source["id"]},
            )
        ).scalar_one()
    other_id = owner_id + 1

    identity = await api.aws.caller_identity(source=source["id"], owner_id=owner_id)
    assert identity.account == "111111111111"
    with pytest.raises(SourceNotFound):
        await api.aws.caller_identity(source=source["id"], owner_id=other_id)
    with pytest.raises(SourceNotFound):
        await api.aws.caller_identity(source=source["id"])


async def test_shared_credentials_are_visible_to_everyone_but_only_admins_save_them(api):
    refused = await api.post(
        "/credentials",
        "operator",
        json={
            "name": "team",
            "partition": "aws",
            "shared": True,
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "x" * 40,
        },
    )
    await api.add_keys("team", user="admin", shared=True)

    assert refused.status_code == 403
    assert "aws-common:credentials.share" in refused.json()["detail"]
    for user in ("operator", "viewer"):
        listed = (await api.get("/credentials", user)).json()
        assert [(item["name"], item["shared"]) for item in listed] == [("team", True)]


@SQLITE_ONLY
async def test_operators_cannot_change_shared_credentials_and_viewers_cannot_add_any(api):
    shared = await api.add_keys("team", user="admin")

    renamed = await api.patch(f"/credentials/{shared['id']}", "operator", json={"name": "x"})
    deleted = await api.delete(f"/credentials/{shared['id']}", "operator")
    added = await api.post("/credentials", "viewer", json={"name": "v", "partition": "aws"})

    assert (renamed.status_code, deleted.status_code, added.status_code) == (403, 403, 403)


async def test_refresh_checks_again_and_records_a_changed_status(api):
    source = await api.add_keys("temp", user="operator", shared=False)
    async with api.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE aws_common_credential_source SET expires_at = :past WHERE id = :id"),
            {
                "past": datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1),
                "id": source["id"],
            },
        )

    refreshed = await api.post(f"/credentials/{source['id']}/refresh", "operator")

    assert refreshed.status_code == 200
    assert refreshed.json()["status"] == "expired"
    assert refreshed.json()["status_detail"].startswith("the credentials expired at")


@SQLITE_ONLY
async def test_the_default_chain_and_profiles_are_shared_host_sources(api, moto_credentials_env):
    default = await api.post(
        "/credentials", json={"name": "host", "partition": "aws", "kind": "default"}
    )
    profile = await api.post(
        "/credentials",
        json={
            "name": "member-profile",
            "partition": "aws",
            "kind": "profile",
            "profile_name": "222222222222",
        },
    )
    missing = await api.post(
        "/credentials",
        json={"name": "nope", "partition": "aws", "kind": "profile", "profile_name": "missing"},
    )
    by_operator = await api.post(
        "/credentials", "operator", json={"name": "mine", "partition": "aws", "kind": "default"}
    )

    assert (default.status_code, default.json()["status"], default.json()["shared"]) == (
        201,
        "valid",
        True,
    )
    assert default.json()["identity_account"] == "111111111111"
    assert (profile.json()["status"], profile.json()["identity_account"]) == (
        "valid",
        "222222222222",
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "profile_name"]
    assert by_operator.status_code == 403


BAD_SOURCES = [
    ({"partition": "aws-cn"}, "partition", "unknown partition 'aws-cn'"),
    ({"access_key_id": None}, "access_key_id", "is required for kind 'keys'"),
    ({"secret_access_key": None}, "secret_access_key", "is required for kind 'keys'"),
    ({"access_key_id": "lowercase-key"}, "access_key_id", "should match pattern"),
    ({"kind": "default"}, "access_key_id", "is only for kind 'keys'"),
    ({"kind": "magic"}, "kind", "Input should be 'keys', 'profile' or 'default'"),
    ({"name": ""}, "name", "at least 1 character"),
    ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at", "already expired"),
]


@SQLITE_ONLY
async def test_every_bad_field_of_a_credential_source_is_named(api):
    management = api.moto.account("management")
    valid = {
        "name": "x",
        "partition": "aws",
        "access_key_id": management.access_key_id,
        "secret_access_key": management.secret_access_key,
    }
    wrong = []
    for body, field, message in BAD_SOURCES:
        response = await api.post("/credentials", "admin", json={**valid, **body})
        errors = response.json()["detail"] if response.status_code == 422 else []
        if not (len(errors) == 1 and errors[0]["loc"][-1] == field and message in errors[0]["msg"]):
            wrong.append((body, response.status_code, response.text))

    assert wrong == []
    assert (await api.get("/credentials")).json() == []


async def test_a_source_that_reaches_accounts_cannot_be_removed(api):
    source = await api.add_keys("prod")
    await api.add_account(
        account_id="111111111111",
        name="Prod",
        partition="aws",
        regions=["us-east-1"],
        credential_source_id=source["id"],
    )

    response = await api.delete(f"/credentials/{source['id']}")

    assert response.status_code == 409
    assert "111111111111" in response.json()["detail"]


async def test_changes_to_credentials_are_audited_without_secrets(api):
    management = api.moto.account("management")
    source = await api.add_keys("prod", user="operator", shared=False)
    await api.post(f"/credentials/{source['id']}/refresh", "operator")
    await api.delete(f"/credentials/{source['id']}", "operator")

    events = (await api.page("/api/audit?action=aws-common.credentials.*")).json()["events"]

    assert [event["action"] for event in events] == [
        "aws-common.credentials.delete",
        "aws-common.credentials.refresh",
        "aws-common.credentials.create",
    ]
    assert management.secret_access_key not in str(events)


async def test_before_the_seeds_ran_a_write_says_to_run_them_not_500(pcm_admin_client):
    """An installation that ran ``db upgrade`` but not ``db seed`` has no partitions: adding
    a credential or an account is refused with what to do (it was a foreign-key 500)."""
    credential = await pcm_admin_client.post(
        "/api/tools/aws/common/credentials",
        json={
            "name": "keys",
            "partition": "aws",
            "kind": "keys",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "x" * 40,
        },
    )
    account = await pcm_admin_client.post(
        "/api/tools/aws/common/accounts",
        json={
            "account_id": "123456789012",
            "name": "prod",
            "partition": "aws",
            "regions": ["us-east-1"],
            "credential_source_id": 1,
        },
    )

    for answer in (credential, account):
        assert answer.status_code == 409, answer.text
        assert "run `pcm-ops db seed`" in answer.json()["detail"]
