"""``pcm-ops aws ...``: the registry and shared credentials from the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pcm_ops.cli.main import cli

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
pytestmark = SQLITE_ONLY


@pytest.fixture
def run(seeded_database, pcm_settings, monkeypatch):
    """Run ``pcm-ops`` against the test's database, with the plugin pointed at moto."""
    monkeypatch.setenv("PCM_DATA_DIR", str(pcm_settings.data_dir))
    monkeypatch.setenv("PCM_DATABASE_URL", pcm_settings.effective_database_url)
    monkeypatch.setenv("PCM_PLUGINS", "aws-common")

    def invoke(*args, env=None, input=None):
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def _add_source(run, moto_aws, name="org", account="management"):
    prepared = moto_aws.account(account)
    return run(
        "aws",
        "credentials",
        "add",
        name,
        "--partition",
        prepared.partition,
        "--access-key-id",
        prepared.access_key_id,
        env={"PCM_AWS_SECRET_ACCESS_KEY": prepared.secret_access_key},
    )


def test_credentials_are_added_checked_and_listed_without_secrets(run, moto_aws):
    prepared = moto_aws.account("management")

    added = _add_source(run, moto_aws)
    listed = run("aws", "credentials", "list", "--json")
    refreshed = run("aws", "credentials", "refresh", "org")

    assert added.exit_code == 0, added.output
    assert added.output.startswith(
        "Saved credential source 'org' (id 1): valid as arn:aws:iam::111111111111:user/pcm-ops"
    )
    [source] = json.loads(listed.output)
    assert (source["shared"], source["secret_access_key"]) == (True, "set")
    assert prepared.secret_access_key not in listed.output
    assert refreshed.output == "org: valid\n"


def test_rejected_keys_are_reported_with_aws_reason(run, moto_aws):
    result = run(
        "aws",
        "credentials",
        "add",
        "bad",
        "--access-key-id",
        "AKIAIOSFODNN7BOGUS00",
        env={"PCM_AWS_SECRET_ACCESS_KEY": "nope"},
    )

    assert result.exit_code == 1
    assert "AWS rejected these credentials: InvalidClientTokenId" in result.output
    assert "Traceback" not in result.output


def test_accounts_are_added_listed_checked_and_removed(run, moto_aws):
    _add_source(run, moto_aws)

    added = run(
        "aws",
        "accounts",
        "add",
        "222222222222",
        "--name",
        "Member",
        "--region",
        "us-east-1",
        "--region",
        "us-west-2",
        "--source",
        "org",
        "--role-arn",
        "arn:aws:iam::222222222222:role/PcmOpsAccess",
        "--tag",
        "env=prod",
    )
    listed = run("aws", "accounts", "list", "--tag", "env=prod")
    checked = run("aws", "accounts", "check", "222222222222")
    removed = run("aws", "accounts", "remove", "222222222222", "--yes")
    empty = run("aws", "accounts", "list")

    assert added.output == "Added account 222222222222 (Member).\n", added.output
    assert "222222222222  Member  aws" in listed.output
    assert checked.output.startswith(
        "222222222222: reached as arn:aws:sts::222222222222:assumed-role/PcmOpsAccess/pcm-ops-cli"
    )
    assert removed.exit_code == 0
    assert empty.output == "No accounts.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["12345"], "account_id: Value error, '12345' is not an AWS account id"),
        (
            ["222222222222", "--region", "us-gov-west-1"],
            "regions: 'us-gov-west-1' is not a region of partition aws (Commercial)",
        ),
        (["222222222222", "--source", "missing"], "no credential source is named 'missing'"),
    ],
)
def test_bad_accounts_are_refused_with_the_field_named(run, moto_aws, args, message):
    _add_source(run, moto_aws)
    defaults = {"--name": "Member", "--region": "us-east-1", "--source": "org"}
    options = [item for key, value in defaults.items() if key not in args for item in (key, value)]

    result = run("aws", "accounts", "add", *args, *options)

    assert result.exit_code == 1
    assert message.replace("Value error, ", "") in result.output


def test_accounts_are_imported_from_organizations_after_a_preview(run, moto_aws):
    organization = moto_aws.ensure_organization("111111111111", 25)
    _add_source(run, moto_aws)

    declined = run(
        "aws", "accounts", "import", "--source", "org", "--region", "us-east-1", input="n\n"
    )
    imported = run("aws", "accounts", "import", "--source", "org", "--region", "us-east-1", "--yes")
    listed = json.loads(run("aws", "accounts", "list", "--json").output)

    assert declined.exit_code == 1
    assert "Aborted" in declined.output
    assert all(account["Id"] in declined.output for account in organization)
    assert imported.output.splitlines()[-1] == f"Imported {len(organization)} account(s)."
    assert len(listed) == len(organization)


def test_regions_are_listed_by_partition(run):
    result = run("aws", "regions", "list", "--partition", "aws-us-gov")

    assert result.output.splitlines()[:3] == [
        "GovCloud (aws-us-gov): 2 regions",
        "  us-gov-east-1    AWS GovCloud (US-East)",
        "  us-gov-west-1    AWS GovCloud (US-West)",
    ]


def test_changes_from_the_command_line_are_audited_as_the_cli_user_like_the_apis(run, moto_aws):
    from pcm_ops.cli.session import cli_actor

    _add_source(run, moto_aws)
    run("aws", "credentials", "refresh", "org")
    run("aws", "credentials", "remove", "org")

    tail = run("audit", "tail", "--json", "--action", "aws-common.credentials.*")
    events = [json.loads(line) for line in tail.output.splitlines()]

    assert tail.exit_code == 0, tail.output
    assert [(e["action"], e["actor"], e["object_id"]) for e in events] == [
        ("aws-common.credentials.create", cli_actor(), "1"),
        ("aws-common.credentials.refresh", cli_actor(), "1"),
        ("aws-common.credentials.delete", cli_actor(), "1"),
    ]
    assert events[0]["details"] == {
        "name": "org",
        "kind": "keys",
        "partition": "aws",
        "shared": True,
        "status": "valid",
        "identity_arn": "arn:aws:iam::111111111111:user/pcm-ops",
    }
