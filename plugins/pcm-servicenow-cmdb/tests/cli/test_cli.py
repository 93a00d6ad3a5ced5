"""``pcm-ops servicenow ...`` as a user types it, against the fake ServiceNow."""

from __future__ import annotations

import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
def pcm_ops(pcm_cli):
    return pcm_cli("servicenow-cmdb")


def test_a_connection_is_added_from_the_environment_and_changes_are_shown(
    pcm_ops, servicenow, monkeypatch
):
    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", DEFAULT_PASSWORD)
    vm = servicenow.add("cmdb_ci_vm_instance", name="web-1", object_id="i-0123456789abcdef0")
    change = servicenow.add(
        "change_request",
        short_description="Patch web",
        state="-1",
        approval="approved",
        start_date="2026-12-01 10:00:00",
        end_date="2026-12-01 12:00:00",
    )
    servicenow.add("task_ci", task=change, ci_item=vm)
    number = servicenow.get(change)["number"]

    added = pcm_ops(
        "servicenow", "connections", "add", "acme", "--url", servicenow.url,
        "--username", DEFAULT_USERNAME,
    )  # fmt: skip
    listed = pcm_ops("servicenow", "changes", "list", "--state", "-1")
    shown = pcm_ops("servicenow", "changes", "show", number)
    looked_up = pcm_ops("servicenow", "ci", "show", "i-0123456789abcdef0")

    assert added[0] == 0, added
    assert added[1].startswith("added connection 1: acme")
    assert DEFAULT_PASSWORD not in added[1] + added[2]
    assert number in listed[1]
    assert "Implement" in listed[1]
    assert "2026-12-01 10:00 to 2026-12-01 12:00 UTC" in shown[1]
    assert "web-1" in shown[1]
    assert "1 affected CI(s), 0 mapped to an EC2 instance" in shown[1]
    assert "the AWS Script Runner is not installed" in shown[1]
    assert "not mapped: the CMDB places instance i-0123456789abcdef0 in no account" in shown[1]
    assert f"affected by {number} (Implement): Patch web" in looked_up[1]


def test_problems_are_one_clear_line(pcm_ops, servicenow, monkeypatch):
    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", "wrong")

    refused = pcm_ops(
        "servicenow", "connections", "add", "acme", "--url", servicenow.url,
        "--username", DEFAULT_USERNAME,
    )  # fmt: skip
    nothing = pcm_ops("servicenow", "changes", "list")
    bad_state = pcm_ops("servicenow", "changes", "list", "--state", "7")

    assert refused[0] == 1
    assert refused[2].startswith("Error: password: ServiceNow refused these credentials")
    assert "wrong" not in refused[2]
    assert nothing[0] == 1
    assert "pcm-ops servicenow connections add" in nothing[2]
    assert bad_state[0] == 2
    assert "--state" in bad_state[2]
    assert "unknown ['7']; known: -5 (New)" in bad_state[2]
    assert "Traceback" not in refused[2] + nothing[2] + bad_state[2]


def test_changes_list_mine_uses_the_groups_setting_and_explains_a_missing_one(
    pcm_ops, servicenow, monkeypatch, tmp_path
):
    config = tmp_path / "pcm-ops.toml"
    config.write_text('[servicenow-cmdb.groups]\nalice = ["DBA"]\n')
    monkeypatch.setenv("PCM_CONFIG", str(config))
    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", DEFAULT_PASSWORD)
    for group in ("DBA", "Network"):
        group_id = servicenow.add("sys_user_group", name=group)
        servicenow.add(
            "change_request", short_description=f"Work of {group}", assignment_group=group_id
        )
    pcm_ops(
        "servicenow", "connections", "add", "acme", "--url", servicenow.url,
        "--username", DEFAULT_USERNAME,
    )  # fmt: skip

    alice = pcm_ops("servicenow", "changes", "list", "--mine", "--user", "alice")
    carol = pcm_ops("servicenow", "changes", "list", "--mine", "--user", "carol")

    assert alice.exit_code == 0, alice
    assert "Work of DBA" in alice.stdout
    assert "Work of Network" not in alice.stdout
    assert carol.exit_code == 2
    assert "no ServiceNow assignment groups are configured for user 'carol'" in carol.stderr


def test_connections_test_checks_and_check_stays_an_alias(pcm_ops, servicenow, monkeypatch):
    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", DEFAULT_PASSWORD)
    pcm_ops(
        "servicenow", "connections", "add", "acme", "--url", servicenow.url,
        "--username", DEFAULT_USERNAME,
    )  # fmt: skip

    tested = pcm_ops("servicenow", "connections", "test", "acme")
    checked = pcm_ops("servicenow", "connections", "check", "acme")
    servicenow.outage()
    down = pcm_ops("servicenow", "connections", "test", "acme")
    listed = pcm_ops("servicenow", "connections", "list")

    assert tested.exit_code == 0, tested
    assert tested.stdout.startswith("ok: ")
    assert checked.exit_code == 0, checked
    assert checked.stdout.startswith("ok: ")
    assert down.exit_code == 1
    assert down.stderr.startswith("failed: ")
    assert "acme" in listed.stdout
    assert " error: " in listed.stdout


def test_a_connection_with_a_client_certificate_from_files_and_the_environment(
    pcm_ops, https_fake, pki, tmp_path, monkeypatch
):
    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", DEFAULT_PASSWORD)
    (tmp_path / "ca.pem").write_text(pki["ca"][0])
    (tmp_path / "client.pem").write_text(pki["client"][0])
    (tmp_path / "client.key").write_text(pki["client"][1])
    secret = pki["client"][1].splitlines()[1]
    common = ("--url", https_fake.url, "--username", DEFAULT_USERNAME,
              "--ca-bundle", str(tmp_path / "ca.pem"))  # fmt: skip

    from_file = pcm_ops(
        "servicenow", "connections", "add", "a", *common,
        "--client-cert", str(tmp_path / "client.pem"),
        "--client-key", str(tmp_path / "client.key"),
    )  # fmt: skip
    monkeypatch.setenv("PCM_SERVICENOW_CLIENT_KEY", pki["client"][1])
    from_environment = pcm_ops(
        "servicenow", "connections", "add", "b", *common,
        "--client-cert", str(tmp_path / "client.pem"),
    )  # fmt: skip
    monkeypatch.delenv("PCM_SERVICENOW_CLIENT_KEY")
    no_key = pcm_ops(
        "servicenow", "connections", "add", "c", *common,
        "--client-cert", str(tmp_path / "client.pem"),
    )  # fmt: skip
    no_certificate = pcm_ops("servicenow", "connections", "add", "d", *common)
    tested = pcm_ops("servicenow", "connections", "test", "b")

    assert from_file[0] == 0, from_file
    assert from_file[1].startswith("added connection 1: a")
    assert from_environment[0] == 0, from_environment
    assert no_key[0] == 2
    assert "--client-cert needs its key" in no_key[2]
    assert no_certificate[0] == 1  # the server refuses a handshake without one
    assert "Traceback" not in no_certificate[2]
    assert tested[0] == 0, tested
    outputs = from_file + from_environment + no_key + no_certificate + tested
    assert secret not in "".join(str(part) for part in outputs)


def test_connections_update_changes_what_is_given_keeps_the_rest_and_checks_first(
    pcm_ops, servicenow, monkeypatch
):
    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", DEFAULT_PASSWORD)
    pcm_ops(
        "servicenow", "connections", "add", "acme", "--url", servicenow.url,
        "--username", DEFAULT_USERNAME,
    )  # fmt: skip

    nothing = pcm_ops("servicenow", "connections", "update", "acme")
    timeout = pcm_ops("servicenow", "connections", "update", "acme", "--timeout", "20")
    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", "wrong")
    kept = pcm_ops("servicenow", "connections", "update", "acme", "--timeout", "30")
    refused = pcm_ops("servicenow", "connections", "update", "acme", "--secrets")
    bad = pcm_ops("servicenow", "connections", "update", "acme", "--url", "ftp://acme")
    unknown = pcm_ops("servicenow", "connections", "update", "nobody", "--timeout", "5")

    assert nothing.exit_code == 2
    assert "nothing to change" in nothing.stderr
    assert timeout.exit_code == 0, timeout
    assert timeout.stdout.startswith("updated connection 1: acme")
    assert kept.exit_code == 0, kept  # the stored password was kept, not the variable's
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: password: ServiceNow refused these credentials")
    assert bad.exit_code == 1
    assert "base_url" in bad.stderr
    assert unknown.exit_code == 1
    assert "nobody" in unknown.stderr
    assert "wrong" not in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr + bad.stderr + unknown.stderr
    with_timeout = pcm_ops("servicenow", "connections", "test", "acme")
    assert with_timeout.exit_code == 0, with_timeout  # the refused changes were not saved


def test_connections_remove_asks_first_unless_told_yes(pcm_ops, servicenow, monkeypatch):
    import io

    monkeypatch.setenv("PCM_SERVICENOW_PASSWORD", DEFAULT_PASSWORD)
    pcm_ops(
        "servicenow", "connections", "add", "acme", "--url", servicenow.url,
        "--username", DEFAULT_USERNAME,
    )  # fmt: skip

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    kept = pcm_ops("servicenow", "connections", "remove", "acme")
    still = pcm_ops("servicenow", "connections", "list")
    removed = pcm_ops("servicenow", "connections", "remove", "acme", "--yes")
    gone = pcm_ops("servicenow", "connections", "list")

    assert kept.exit_code != 0
    assert "Aborted" in kept.stderr
    assert "acme" in still.stdout
    assert removed.exit_code == 0, removed
    assert removed.stdout.startswith("removed connection 1: acme")
    assert gone.stdout.startswith("No ServiceNow connections.")
