"""``/accounts``: the registry, its validation, access checks and permissions."""

from __future__ import annotations

import pytest

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def _account(api, source_id, **overrides):
    body = {
        "account_id": "222222222222",
        "name": "Member",
        "partition": "aws",
        "regions": ["us-east-1", "eu-west-1"],
        "credential_source_id": source_id,
        "role_arn": "arn:aws:iam::222222222222:role/PcmOpsAccess",
        "tags": {"env": "prod"},
        **overrides,
    }
    return await api.add_account(**body)


async def test_an_account_is_added_listed_changed_and_removed(api):
    source = await api.add_keys("org")

    created = await _account(api, source["id"])
    listed = await api.get("/accounts", "viewer")
    changed = await api.patch(
        "/accounts/222222222222",
        json={
            "name": "Member (prod)",
            "regions": ["us-west-2"],
            "tags": {"env": "prod", "team": "a"},
        },
    )
    removed = await api.delete("/accounts/222222222222")
    after = await api.get("/accounts/222222222222")

    assert created.status_code == 201, created.text
    assert created.json() | {"created_at": None, "updated_at": None} == {
        "account_id": "222222222222",
        "name": "Member",
        "partition": "aws",
        "partition_name": "Commercial",
        "regions": ["us-east-1", "eu-west-1"],
        "tags": {"env": "prod"},
        "credential_source_id": source["id"],
        "credential_source_name": "org",
        "access": "role",
        "role_arn": "arn:aws:iam::222222222222:role/PcmOpsAccess",
        "external_id": None,
        "session_duration_seconds": 3600,
        "description": "",
        "origin": "manual",
        "created_at": None,
        "updated_at": None,
    }
    assert [item["account_id"] for item in listed.json()] == ["222222222222"]
    assert (changed.json()["name"], changed.json()["regions"]) == ("Member (prod)", ["us-west-2"])
    assert (removed.status_code, after.status_code) == (204, 404)


async def test_accounts_are_filtered_by_partition_tag_and_text(api):
    org = await api.add_keys("org")
    gov = await api.add_keys("gov", "govcloud")
    await _account(api, org["id"])
    await _account(
        api,
        gov["id"],
        account_id="333333333333",
        name="Gov",
        partition="aws-us-gov",
        regions=["us-gov-west-1"],
        role_arn=None,
        tags={"env": "test"},
    )

    async def ids(**params):
        return [a["account_id"] for a in (await api.get("/accounts", params=params)).json()]

    assert await ids(partition="aws-us-gov") == ["333333333333"]
    assert await ids(tag="env=prod") == ["222222222222"]
    assert await ids(q="gov") == ["333333333333"]
    assert (await api.get("/accounts", params={"tag": "nonsense"})).status_code == 422


@SQLITE_ONLY
async def test_only_admins_change_the_registry(api):
    source = await api.add_keys("org")

    for user in ("operator", "viewer"):
        assert (await api.post("/accounts", user, json={})).status_code == 403
    await _account(api, source["id"])
    assert (
        await api.patch("/accounts/222222222222", "operator", json={"name": "x"})
    ).status_code == 403
    assert (await api.delete("/accounts/222222222222", "operator")).status_code == 403
    assert (await api.get("/accounts/222222222222", "viewer")).status_code == 200


async def test_an_account_cannot_be_registered_twice(api):
    source = await api.add_keys("org")
    await _account(api, source["id"])

    again = await _account(api, source["id"], name="Again")

    assert again.status_code == 409
    assert again.json()["detail"] == "account 222222222222 is already registered as 'Member'"


BAD_ACCOUNTS = [
    ({"account_id": "12345"}, "account_id", "must be exactly 12 digits"),
    ({"account_id": "22222222222a"}, "account_id", "must be exactly 12 digits"),
    ({"name": ""}, "name", "at least 1 character"),
    ({"partition": "aws-cn"}, "partition", "unknown partition 'aws-cn'"),
    ({"regions": []}, "regions", "at least 1 item"),
    (
        {"regions": ["us-gov-west-1"]},
        "regions",
        "'us-gov-west-1' is not a region of partition aws (Commercial); it is a region of "
        "aws-us-gov (GovCloud)",
    ),
    ({"regions": ["mars-north-1"]}, "regions", "not an AWS region botocore knows"),
    ({"credential_source_id": 999}, "credential_source_id", "not a shared credential source"),
    ({"role_arn": "arn:aws:iam::222222222222:user/bob"}, "role_arn", "not an IAM role ARN"),
    (
        {"role_arn": "arn:aws-us-gov:iam::222222222222:role/PcmOpsAccess"},
        "role_arn",
        "never crosses a partition boundary",
    ),
    (
        {"role_arn": "arn:aws:iam::444444444444:role/PcmOpsAccess"},
        "role_arn",
        "belongs to account 444444444444, not to account 222222222222",
    ),
    ({"external_id": "x"}, "external_id", "2 to 1224"),
    ({"role_arn": None, "external_id": "abcdef"}, "external_id", "only used with role_arn"),
    (
        {"session_duration_seconds": 60},
        "session_duration_seconds",
        "greater than or equal to 900",
    ),
    (
        {"session_duration_seconds": 50000},
        "session_duration_seconds",
        "less than or equal to 43200",
    ),
    ({"tags": {"": "x"}}, "tags", "1 to 128 characters"),
]


@SQLITE_ONLY
async def test_every_bad_field_of_an_account_is_rejected_with_its_name(api):
    source = await api.add_keys("org")
    wrong = []
    for overrides, field, message in BAD_ACCOUNTS:
        response = await _account(api, source["id"], **overrides)
        errors = response.json()["detail"] if response.status_code == 422 else []
        if not (
            len(errors) == 1
            and errors[0]["loc"][:2] == ["body", field]
            and message in errors[0]["msg"]
        ):
            wrong.append((overrides, response.status_code, response.text))

    assert wrong == []
    assert (await api.get("/accounts")).json() == []


@SQLITE_ONLY
async def test_a_personal_or_other_partition_source_cannot_reach_an_account(api):
    personal = await api.add_keys("mine", user="admin", shared=False)
    gov = await api.add_keys("gov", "govcloud")

    with_personal = await _account(api, personal["id"])
    with_gov = await _account(api, gov["id"])

    assert with_personal.json()["detail"][0]["msg"].startswith(
        f"credential source {personal['id']} is not a shared credential source"
    )
    assert (
        "is in partition aws-us-gov (GovCloud) but the account is in aws (Commercial)"
        in (with_gov.json()["detail"][0]["msg"])
    )


@SQLITE_ONLY
async def test_bad_changes_are_rejected_like_bad_new_accounts(api):
    source = await api.add_keys("org")
    await _account(api, source["id"])

    response = await api.patch("/accounts/222222222222", json={"regions": ["us-gov-east-1"]})
    path_error = await api.get("/accounts/not-an-id")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "regions"]
    assert path_error.status_code == 422
    assert path_error.json()["detail"][0]["loc"] == ["path", "account_id"]


async def test_access_check_assumes_the_role_and_names_the_user(api):
    source = await api.add_keys("org")
    await _account(api, source["id"])

    checked = await api.post("/accounts/222222222222/check", "viewer")

    assert checked.json()["ok"] is True, checked.json()
    assert checked.json()["identity_arn"].startswith(
        "arn:aws:sts::222222222222:assumed-role/PcmOpsAccess/pcm-ops-pytest-viewer-"
    )


@SQLITE_ONLY
async def test_access_check_reports_a_source_of_another_account(api):
    source = await api.add_keys("org")
    await _account(api, source["id"], role_arn=None)

    checked = (await api.post("/accounts/222222222222/check")).json()

    assert checked["ok"] is False
    assert checked["detail"].startswith(
        "the credentials belong to account 111111111111, not 222222222222"
    )


@SQLITE_ONLY
async def test_access_check_says_which_role_failed_and_why(api):
    source = await api.add_keys("org")
    await _account(api, source["id"], role_arn="arn:aws:iam::222222222222:role/Missing")

    checked = (await api.post("/accounts/222222222222/check")).json()

    assert checked["ok"] is False
    assert checked["detail"] == (
        "cannot assume role arn:aws:iam::222222222222:role/Missing for account 222222222222 "
        "(Member): AccessDenied: User: arn:aws:iam::111111111111:user/pcm-ops is not "
        "authorized to perform: sts:AssumeRole on resource: "
        "arn:aws:iam::222222222222:role/Missing"
    )


async def test_account_changes_are_audited(api):
    source = await api.add_keys("org")
    await _account(api, source["id"])
    await api.patch("/accounts/222222222222", json={"name": "Renamed"})
    await api.delete("/accounts/222222222222")

    events = (await api.page("/api/audit?action=aws-common.account.*")).json()["events"]

    assert [(e["action"], e["object_id"]) for e in events] == [
        ("aws-common.account.delete", "222222222222"),
        ("aws-common.account.update", "222222222222"),
        ("aws-common.account.create", "222222222222"),
    ]
    assert events[1]["details"]["changed"] == ["name"]


async def test_partitions_and_their_regions_come_from_botocore(api):
    from botocore.loaders import create_loader

    endpoints = create_loader().load_data("endpoints")
    expected = {p["partition"]: sorted(p["regions"]) for p in endpoints["partitions"]}

    partitions = (await api.get("/partitions", "viewer")).json()

    assert [(p["id"], p["name"]) for p in partitions] == [
        ("aws", "Commercial"),
        ("aws-us-gov", "GovCloud"),
    ]
    for partition in partitions:
        assert [r["id"] for r in partition["regions"]] == expected[partition["id"]]
