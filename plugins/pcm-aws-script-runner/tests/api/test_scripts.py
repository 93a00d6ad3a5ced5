"""``/api/tools/aws/script-runner/scripts``: the library, its immutable versions, diffs,
archiving, validation, permissions and the audit trail."""

from __future__ import annotations

import pytest

from pcm_aws_script_runner.services.parameters import ParameterSpec
from pcm_aws_script_runner.services.validation import content_sha256

API = "/api/tools/aws/script-runner"
SCRIPTS = f"{API}/scripts"


def expected_sha(payload) -> str:
    specs = [
        ParameterSpec(
            name=p["name"],
            type=p.get("type", "string"),
            description=p.get("description", ""),
            default=p.get("default"),
            required=p.get("required", False),
            secret=p.get("secret", False),
            choices=tuple(p.get("choices", ())),
        )
        for p in payload["parameters"]
    ]
    return content_sha256(payload["language"], payload["body"], specs)


# -- creating and reading ---------------------------------------------------------------------


async def test_an_admin_creates_a_script_as_version_1(pcm_admin_client, script_payload):
    response = await pcm_admin_client.post(SCRIPTS, json=script_payload)

    assert response.status_code == 201, response.text
    script = response.json()
    assert script["name"] == "restart-nginx"
    assert script["current_version"] == 1
    assert script["ssm_document"] == "AWS-RunShellScript"
    assert script["tags"] == ["linux", "web"]
    assert script["sha256"] == expected_sha(script_payload)
    assert [p["name"] for p in script["parameters"]] == ["service", "mode", "api_token"]
    assert script["archived"] is False


async def test_powershell_scripts_run_with_the_powershell_document(create_script):
    script = await create_script(name="Get-Uptime", language="powershell", body="Get-Uptime\n")

    assert script["ssm_document"] == "AWS-RunPowerShellScript"


async def test_scripts_are_listed_by_name_and_searchable(pcm_admin_client, create_script):
    await create_script(name="zeta", description="Rotate logs", tags=["logs"])
    await create_script(name="Alpha", description="Patch the kernel", tags=["patching"])

    everything = await pcm_admin_client.get(SCRIPTS)
    searched = await pcm_admin_client.get(SCRIPTS, params={"q": "KERNEL"})
    tagged = await pcm_admin_client.get(SCRIPTS, params={"tag": "logs"})

    assert [s["name"] for s in everything.json()] == ["Alpha", "zeta"]
    assert [s["name"] for s in searched.json()] == ["Alpha"]
    assert [s["name"] for s in tagged.json()] == ["zeta"]


async def test_search_text_is_literal_not_a_pattern(pcm_admin_client, create_script):
    await create_script(name="disk_usage")
    await create_script(name="diskXusage")

    searched = await pcm_admin_client.get(SCRIPTS, params={"q": "k_u"})

    assert [s["name"] for s in searched.json()] == ["disk_usage"]


async def test_a_script_reads_with_its_current_content(pcm_admin_client, create_script):
    created = await create_script()

    response = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}")

    assert response.status_code == 200
    assert response.json()["body"] == created["body"]


async def test_an_unknown_script_is_404(pcm_admin_client):
    response = await pcm_admin_client.get(f"{SCRIPTS}/999")

    assert response.status_code == 404
    assert response.json()["detail"] == "there is no script with id 999"


# -- versions ---------------------------------------------------------------------------------


async def test_changing_the_body_saves_a_new_version_with_a_new_sha(
    pcm_admin_client, create_script
):
    created = await create_script()

    response = await pcm_admin_client.patch(
        f"{SCRIPTS}/{created['id']}",
        json={"body": "systemctl reload nginx\n", "comment": "reload is enough"},
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["current_version"] == 2
    assert updated["sha256"] != created["sha256"]
    assert updated["body"] == "systemctl reload nginx\n"
    assert updated["parameters"] == created["parameters"]


async def test_changing_only_the_description_saves_a_version_with_the_same_sha(
    pcm_admin_client, create_script
):
    created = await create_script()

    response = await pcm_admin_client.patch(
        f"{SCRIPTS}/{created['id']}", json={"description": "Restart the web server", "tags": []}
    )

    updated = response.json()
    assert updated["current_version"] == 2
    assert updated["sha256"] == created["sha256"]
    assert (updated["description"], updated["tags"]) == ("Restart the web server", [])


async def test_earlier_versions_stay_as_they_were_saved(pcm_admin_client, create_script):
    created = await create_script()
    await pcm_admin_client.patch(f"{SCRIPTS}/{created['id']}", json={"body": "true\n"})

    first = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}/versions/1")
    second = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}/versions/2")

    assert first.json()["body"] == created["body"]
    assert first.json()["sha256"] == created["sha256"]
    assert first.json()["comment"] == "first cut"
    assert second.json()["body"] == "true\n"


# Routing does not depend on the database: run once.
@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
async def test_no_route_changes_or_deletes_a_version(pcm_admin_client, create_script, method):
    created = await create_script()

    response = await pcm_admin_client.request(
        method, f"{SCRIPTS}/{created['id']}/versions/1", json={"body": "rm -rf /\n"}
    )

    assert response.status_code == 405
    stored = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}/versions/1")
    assert stored.json()["body"] == created["body"]


async def test_versions_are_listed_newest_first_saying_when_content_changed(
    pcm_admin_client, create_script
):
    created = await create_script()
    url = f"{SCRIPTS}/{created['id']}"
    await pcm_admin_client.patch(url, json={"body": "true\n"})
    await pcm_admin_client.patch(url, json={"description": "words only"})

    response = await pcm_admin_client.get(f"{url}/versions")

    assert [(v["number"], v["content_changed"]) for v in response.json()] == [
        (3, False),
        (2, True),
        (1, True),
    ]
    assert {v["created_by"] for v in response.json()} == {created["updated_by"]}


async def test_an_unknown_version_is_404_saying_which_exist(pcm_admin_client, create_script):
    created = await create_script()

    response = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}/versions/7")

    assert response.status_code == 404
    assert (
        response.json()["detail"]
        == "script 'restart-nginx' has no version 7; its versions are 1 to 1"
    )


# -- diffs ------------------------------------------------------------------------------------


async def test_the_diff_shows_body_lines_and_parameter_changes(pcm_admin_client, create_script):
    created = await create_script()
    await pcm_admin_client.patch(
        f"{SCRIPTS}/{created['id']}",
        json={
            "body": "#!/bin/bash\nset -euo pipefail\nsystemctl reload nginx\n",
            "parameters": [
                {"name": "service", "type": "string", "default": "httpd", "required": True},
                {"name": "dry_run", "type": "boolean", "default": False},
            ],
        },
    )

    response = await pcm_admin_client.get(
        f"{SCRIPTS}/{created['id']}/diff", params={"from": 1, "to": 2}
    )

    diff = response.json()
    assert response.status_code == 200
    assert diff["content_changed"] is True
    assert "-systemctl restart nginx" in diff["body_diff"].splitlines()
    assert "+systemctl reload nginx" in diff["body_diff"].splitlines()
    assert diff["body_diff"].startswith("--- restart-nginx@v1\n+++ restart-nginx@v2")
    assert [(p["name"], p["change"], p["fields"]) for p in diff["parameters"]] == [
        ("service", "changed", ["default"]),
        ("dry_run", "added", []),
        ("mode", "removed", []),
        ("api_token", "removed", []),
    ]


async def test_the_diff_defaults_to_the_latest_change(pcm_admin_client, create_script):
    created = await create_script()
    url = f"{SCRIPTS}/{created['id']}"
    await pcm_admin_client.patch(url, json={"body": "true\n"})
    await pcm_admin_client.patch(url, json={"name": "restart-web", "tags": ["web"]})

    diff = (await pcm_admin_client.get(f"{url}/diff")).json()

    assert (diff["from_version"], diff["to_version"]) == (2, 3)
    assert diff["body_diff"] == ""
    assert diff["content_changed"] is False
    assert [(c["field"], c["before"], c["after"]) for c in diff["fields"]] == [
        ("name", "restart-nginx", "restart-web"),
        ("tags", ["linux", "web"], ["web"]),
    ]


# -- archiving --------------------------------------------------------------------------------


async def test_archiving_is_reflected_and_hides_the_script_from_the_default_list(
    pcm_admin_client, create_script
):
    created = await create_script()

    response = await pcm_admin_client.post(f"{SCRIPTS}/{created['id']}/archive")
    listed = await pcm_admin_client.get(SCRIPTS)
    with_archived = await pcm_admin_client.get(SCRIPTS, params={"include_archived": True})

    assert response.status_code == 200
    assert response.json()["archived"] is True
    assert response.json()["archived_by"] == created["created_by"]
    assert listed.json() == []
    assert [s["archived"] for s in with_archived.json()] == [True]


async def test_an_archived_script_stays_readable_with_its_versions(pcm_admin_client, create_script):
    created = await create_script()
    await pcm_admin_client.post(f"{SCRIPTS}/{created['id']}/archive")

    script = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}")
    version = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}/versions/1")

    assert (script.status_code, version.status_code) == (200, 200)


async def test_an_archived_script_cannot_be_edited(pcm_admin_client, create_script):
    created = await create_script()
    await pcm_admin_client.post(f"{SCRIPTS}/{created['id']}/archive")

    response = await pcm_admin_client.patch(f"{SCRIPTS}/{created['id']}", json={"body": "x\n"})

    assert response.status_code == 409
    assert "archived; unarchive it before editing it" in response.json()["detail"]


async def test_archiving_twice_is_a_conflict(pcm_admin_client, create_script):
    created = await create_script()
    await pcm_admin_client.post(f"{SCRIPTS}/{created['id']}/archive")

    response = await pcm_admin_client.post(f"{SCRIPTS}/{created['id']}/archive")

    assert response.status_code == 409
    assert response.json()["detail"] == "script 'restart-nginx' is already archived"


async def test_unarchiving_brings_the_script_back(pcm_admin_client, create_script):
    created = await create_script()
    await pcm_admin_client.post(f"{SCRIPTS}/{created['id']}/archive")

    response = await pcm_admin_client.post(f"{SCRIPTS}/{created['id']}/unarchive")

    assert response.json()["archived"] is False
    assert response.json()["archived_at"] is None


# -- conflicts and invalid input --------------------------------------------------------------


async def test_a_duplicate_name_in_any_case_is_a_conflict(pcm_admin_client, create_script):
    await create_script()

    response = await pcm_admin_client.post(
        SCRIPTS, json={"name": "Restart-NGINX", "language": "shell", "body": "true\n"}
    )

    assert response.status_code == 409
    assert response.json()["detail"].startswith("a script named 'restart-nginx' already exists")


async def test_renaming_to_a_taken_name_is_a_conflict(pcm_admin_client, create_script):
    await create_script()
    other = await create_script(name="other")

    response = await pcm_admin_client.patch(
        f"{SCRIPTS}/{other['id']}", json={"name": "restart-nginx"}
    )

    assert response.status_code == 409


INVALID = [
    ({"name": "bad;name"}, ["body", "name"]),
    ({"language": "bash"}, ["body", "language"]),
    ({"body": ""}, ["body", "body"]),
    ({"body": "x" * (64 * 1024 + 1)}, ["body", "body"]),
    ({"tags": ["has space"]}, ["body", "tags[0]"]),
    ({"parameters": [{"name": "9lives"}]}, ["body", "parameters[0].name"]),
    ({"parameters": [{"name": "a"}, {"name": "a"}]}, ["body", "parameters[1].name"]),
    (
        {"parameters": [{"name": "n", "type": "integer", "default": "3"}]},
        ["body", "parameters[0].default"],
    ),
    (
        {"parameters": [{"name": "m", "type": "choice", "choices": ["a"], "default": "b"}]},
        ["body", "parameters[0].default"],
    ),
    (
        {"parameters": [{"name": "s", "secret": True, "default": "pw"}]},
        ["body", "parameters[0].default"],
    ),
    ({"parameters": [{"name": "t", "type": "float"}]}, ["body", "parameters", 0, "type"]),
    ({"parameters": [{"name": "t", "colour": "red"}]}, ["body", "parameters", 0, "colour"]),
    ({"comment": "c" * 501}, ["body", "comment"]),
]


# Validation is the same on every database: these run on SQLite only, to stay fast.
@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("change", "location"), INVALID)
async def test_invalid_input_is_422_naming_the_field(
    pcm_admin_client, script_payload, change, location
):
    response = await pcm_admin_client.post(SCRIPTS, json={**script_payload, **change})

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == location
    assert problem["msg"]


async def test_several_problems_are_reported_together(pcm_admin_client, script_payload):
    response = await pcm_admin_client.post(
        SCRIPTS, json={**script_payload, "name": "", "body": " "}
    )

    assert [p["loc"] for p in response.json()["detail"]] == [["body", "name"], ["body", "body"]]


async def test_an_edit_is_validated_like_a_new_script(pcm_admin_client, create_script):
    created = await create_script()

    response = await pcm_admin_client.patch(
        f"{SCRIPTS}/{created['id']}",
        json={"parameters": [{"name": "mode", "type": "choice", "choices": []}]},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "parameters[0].choices"]
    versions = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}/versions")
    assert len(versions.json()) == 1


async def test_null_cannot_replace_a_field(pcm_admin_client, create_script):
    created = await create_script()

    response = await pcm_admin_client.patch(f"{SCRIPTS}/{created['id']}", json={"body": None})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "body"]


# -- permissions ------------------------------------------------------------------------------
# Core enforces them the same way on every database: these run on SQLite only.


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_viewers_read_but_cannot_create_edit_or_archive(
    pcm_auth_headers, pcm_client, create_script, script_payload
):
    created = await create_script()
    viewer = await pcm_auth_headers("viewer")
    url = f"{SCRIPTS}/{created['id']}"

    reads = [
        await pcm_client.get(SCRIPTS, headers=viewer),
        await pcm_client.get(url, headers=viewer),
        await pcm_client.get(f"{url}/versions", headers=viewer),
        await pcm_client.get(f"{url}/versions/1", headers=viewer),
        await pcm_client.get(f"{url}/diff", headers=viewer),
    ]
    writes = [
        await pcm_client.post(SCRIPTS, json={**script_payload, "name": "x"}, headers=viewer),
        await pcm_client.patch(url, json={"body": "x\n"}, headers=viewer),
        await pcm_client.post(f"{url}/archive", headers=viewer),
        await pcm_client.post(f"{url}/unarchive", headers=viewer),
    ]

    assert [r.status_code for r in reads] == [200] * 5
    assert [r.status_code for r in writes] == [403] * 4
    assert "aws-script-runner:scripts.manage" in writes[0].json()["detail"]


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_operators_cannot_manage_scripts(pcm_auth_headers, pcm_client, create_script):
    created = await create_script()
    operator = await pcm_auth_headers("operator")

    edit = await pcm_client.patch(
        f"{SCRIPTS}/{created['id']}", json={"body": "x\n"}, headers=operator
    )
    read = await pcm_client.get(f"{SCRIPTS}/{created['id']}", headers=operator)

    assert (edit.status_code, read.status_code) == (403, 200)


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_requests_without_credentials_are_401(pcm_migrated_database, pcm_client):
    response = await pcm_client.get(SCRIPTS)

    assert response.status_code == 401


# -- the audit trail --------------------------------------------------------------------------


async def test_every_change_is_audited_with_name_version_and_sha(pcm_admin_client, create_script):
    created = await create_script()
    url = f"{SCRIPTS}/{created['id']}"
    updated = (await pcm_admin_client.patch(url, json={"body": "true\n"})).json()
    await pcm_admin_client.post(f"{url}/archive")
    await pcm_admin_client.post(f"{url}/unarchive")

    response = await pcm_admin_client.get(
        "/api/audit", params={"action": "aws-script-runner.*", "object_type": "script"}
    )

    events = list(reversed(response.json()["events"]))
    assert [e["action"] for e in events] == [
        "aws-script-runner.script.create",
        "aws-script-runner.script.update",
        "aws-script-runner.script.archive",
        "aws-script-runner.script.unarchive",
    ]
    assert {e["object_id"] for e in events} == {str(created["id"])}
    assert events[0]["details"] == {
        "name": "restart-nginx",
        "version": 1,
        "sha256": created["sha256"],
    }
    assert events[1]["details"] == {
        "name": "restart-nginx",
        "version": 2,
        "sha256": updated["sha256"],
        "content_changed": True,
    }
    assert all(e["actor"].startswith("pytest-admin-") for e in events)


async def test_a_refused_change_leaves_no_version_and_no_audit_event(
    pcm_admin_client, create_script
):
    created = await create_script()
    await pcm_admin_client.patch(f"{SCRIPTS}/{created['id']}", json={"language": "cobol"})

    versions = await pcm_admin_client.get(f"{SCRIPTS}/{created['id']}/versions")
    audit = await pcm_admin_client.get("/api/audit", params={"action": "aws-script-runner.*"})

    assert len(versions.json()) == 1
    assert [e["action"] for e in audit.json()["events"]] == ["aws-script-runner.script.create"]
