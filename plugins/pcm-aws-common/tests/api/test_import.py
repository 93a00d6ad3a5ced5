"""Importing accounts from AWS Organizations: a preview of every page, then a save of the
accounts chosen."""

from __future__ import annotations

import pytest

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)

MEMBERS = 25  # more than one ListAccounts page (at most 20 per page)


@pytest.fixture
def organization(moto_aws):
    """The management account's organization: the management account and 25 members."""
    return moto_aws.ensure_organization("111111111111", MEMBERS)


def _settings(source_id, **overrides):
    return {
        "credential_source_id": source_id,
        "regions": ["us-east-1"],
        "tags": {"imported": "yes"},
        **overrides,
    }


@SQLITE_ONLY
async def test_the_preview_lists_every_account_of_every_page(api, organization):
    source = await api.add_keys("org")
    calls_before = api.aws.api_calls.calls("organizations", "ListAccounts")

    response = await api.post("/accounts/import/preview", json=_settings(source["id"]))

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["management_account"] == "111111111111"
    assert sorted(a["account_id"] for a in preview["accounts"]) == sorted(
        a["Id"] for a in organization
    )
    assert len(preview["accounts"]) == MEMBERS + 1
    assert api.aws.api_calls.calls("organizations", "ListAccounts") - calls_before == 2
    member = next(a for a in preview["accounts"] if not a["management"])
    assert member["role_arn"] == (
        f"arn:aws:iam::{member['account_id']}:role/OrganizationAccountAccessRole"
    )
    management = next(a for a in preview["accounts"] if a["management"])
    assert management["role_arn"] is None  # reached the way the organization was read
    assert (await api.get("/accounts")).json() == []  # a preview saves nothing


async def test_the_chosen_accounts_are_saved_and_registered_ones_skipped(api, organization):
    source = await api.add_keys("org")
    members = sorted(a["Id"] for a in organization if a["Id"] != "111111111111")
    await api.add_account(
        account_id=members[0],
        name="Already",
        partition="aws",
        regions=["us-east-1"],
        credential_source_id=source["id"],
    )

    response = await api.post(
        "/accounts/import", json={**_settings(source["id"]), "account_ids": members[:3]}
    )

    assert response.status_code == 201, response.text
    result = response.json()
    assert sorted(a["account_id"] for a in result["created"]) == members[1:3]
    assert result["skipped"] == [{"account_id": members[0], "reason": "already in the registry"}]
    created = result["created"][0]
    assert (created["origin"], created["tags"], created["access"]) == (
        "organizations",
        {"imported": "yes"},
        "role",
    )
    events = (await api.page("/api/audit?action=aws-common.account.import")).json()["events"]
    assert len(events) == 2


@SQLITE_ONLY
async def test_an_account_outside_the_organization_is_refused(api, organization):
    source = await api.add_keys("org")

    response = await api.post(
        "/accounts/import", json={**_settings(source["id"]), "account_ids": ["999999999999"]}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "account_ids"]
    assert "999999999999" in response.json()["detail"][0]["msg"]
    assert (await api.get("/accounts")).json() == []


BAD_IMPORTS = [
    ({"regions": ["us-gov-west-1"]}, "regions"),
    ({"member_role_name": "bad role!"}, "member_role_name"),
    (
        {"management_role_arn": "arn:aws-us-gov:iam::111111111111:role/Org"},
        "management_role_arn",
    ),
    ({"credential_source_id": 12345}, "credential_source_id"),
]


@SQLITE_ONLY
async def test_bad_import_settings_are_named(api):
    source = await api.add_keys("org")
    wrong = []
    for overrides, field in BAD_IMPORTS:
        response = await api.post(
            "/accounts/import/preview", json=_settings(source["id"], **overrides)
        )
        errors = response.json()["detail"] if response.status_code == 422 else []
        if not (errors and errors[0]["loc"][:2] == ["body", field]):
            wrong.append((overrides, response.status_code, response.text))

    assert wrong == []


@SQLITE_ONLY
async def test_only_admins_import(api):
    response = await api.post("/accounts/import/preview", "operator", json=_settings(1))

    assert response.status_code == 403
