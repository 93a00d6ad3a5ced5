"""Records, fields, display values, references, single-record reads and updates."""

import re

import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_USERNAME


def one(api, table, sys_id, **params):
    response = api.get(f"/api/now/table/{table}/{sys_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_add_fills_in_sys_fields_and_a_number(servicenow):
    sys_id = servicenow.add("change_request", short_description="Patch", state=-1, on_hold=False)
    record = servicenow.get(sys_id)
    assert re.fullmatch(r"[0-9a-f]{32}", sys_id)
    assert re.fullmatch(r"CHG\d{7}", record["number"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", record["sys_created_on"])
    assert record["sys_class_name"] == "change_request"
    assert record["state"] == "-1"
    assert record["on_hold"] == "false"
    assert record["work_notes"] == ""


def test_numbers_count_up_per_table(servicenow):
    first = servicenow.get(servicenow.add("change_request"))["number"]
    second = servicenow.get(servicenow.add("change_request"))["number"]
    assert int(second[3:]) == int(first[3:]) + 1


def test_values_are_strings(api, changes):
    record = one(api, "change_request", changes["implement"])
    assert record["state"] == "-1"
    assert record["on_hold"] == "false"
    assert all(isinstance(value, str | dict) for value in record.values())


def test_a_reference_carries_a_link_unless_excluded(api, servicenow, changes):
    group = servicenow.get(changes["implement"])["assignment_group"]
    record = one(api, "change_request", changes["implement"], sysparm_fields="assignment_group")
    assert record == {
        "assignment_group": {
            "link": f"{servicenow.url}/api/now/table/sys_user_group/{group}",
            "value": group,
        }
    }
    plain = one(
        api,
        "change_request",
        changes["implement"],
        sysparm_fields="assignment_group",
        sysparm_exclude_reference_link="true",
    )
    assert plain == {"assignment_group": group}


def test_an_empty_reference_is_an_empty_string(api, changes):
    record = one(api, "change_request", changes["assess"], sysparm_fields="assignment_group")
    assert record == {"assignment_group": ""}


def test_display_value_true_gives_labels_and_display_names(api, changes):
    record = one(
        api,
        "change_request",
        changes["implement"],
        sysparm_fields="number,state,approval,type,assignment_group",
        sysparm_display_value="true",
        sysparm_exclude_reference_link="true",
    )
    assert record == {
        "number": "CHG0000001",
        "state": "Implement",
        "approval": "Approved",
        "type": "Normal",
        "assignment_group": "Linux Ops",
    }


@pytest.mark.parametrize(
    ("state", "label"),
    [
        (-5, "New"),
        (-4, "Assess"),
        (-3, "Authorize"),
        (-2, "Scheduled"),
        (-1, "Implement"),
        (0, "Review"),
        (3, "Closed"),
        (4, "Canceled"),
    ],
)
def test_change_state_labels(api, servicenow, state, label):
    sys_id = servicenow.add("change_request", state=state)
    record = one(
        api, "change_request", sys_id, sysparm_fields="state", sysparm_display_value="true"
    )
    assert record == {"state": label}


def test_display_value_all_gives_both(api, servicenow, changes):
    group = servicenow.get(changes["implement"])["assignment_group"]
    record = one(
        api,
        "change_request",
        changes["implement"],
        sysparm_fields="state,assignment_group,short_description",
        sysparm_display_value="all",
    )
    assert record == {
        "state": {"display_value": "Implement", "value": "-1"},
        "assignment_group": {
            "display_value": "Linux Ops",
            "value": group,
            "link": f"{servicenow.url}/api/now/table/sys_user_group/{group}",
        },
        "short_description": {
            "display_value": "Patch the kernel on web servers",
            "value": "Patch the kernel on web servers",
        },
    }


def test_a_reference_shows_a_tasks_number(api, servicenow, changes):
    link = servicenow.add("task_ci", task=changes["implement"], ci_item="")
    record = one(
        api,
        "task_ci",
        link,
        sysparm_fields="task",
        sysparm_display_value="true",
        sysparm_exclude_reference_link="true",
    )
    assert record == {"task": "CHG0000001"}


def test_unknown_fields_are_left_out(api, changes):
    record = one(api, "change_request", changes["implement"], sysparm_fields="number,colour")
    assert record == {"number": "CHG0000001"}


def test_a_missing_record_is_a_404(api):
    response = api.get(f"/api/now/table/change_request/{'0' * 32}")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "No Record found",
            "detail": "Record doesn't exist or ACL restricts the record retrieval",
        },
        "status": "failure",
    }


def test_a_hidden_record_is_a_404(api, servicenow, changes):
    servicenow.hide("change_request", changes["assess"])
    response = api.get(f"/api/now/table/change_request/{changes['assess']}")
    assert response.status_code == 404


def test_a_record_of_another_table_is_a_404(api, changes):
    response = api.get(f"/api/now/table/incident/{changes['assess']}")
    assert response.status_code == 404


def test_a_record_is_read_through_its_parent_table(api, changes):
    assert one(api, "task", changes["assess"], sysparm_fields="number") == {"number": "CHG0000002"}


def test_an_unknown_table_is_a_400(api):
    response = api.get("/api/now/table/u_nothing")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Invalid table u_nothing"


def test_a_forbidden_table_is_a_403(api, servicenow, changes):
    servicenow.forbid("change_request")
    assert api.get("/api/now/table/change_request").status_code == 403
    patch = api.patch(f"/api/now/table/change_request/{changes['assess']}", json={"state": "3"})
    assert patch.status_code == 403
    assert patch.json()["error"]["message"] == "Operation Failed"


def test_patch_updates_fields_and_answers_the_record(api, servicenow, changes):
    response = api.patch(
        f"/api/now/table/change_request/{changes['assess']}",
        json={"state": "-3", "on_hold": True},
    )
    assert response.status_code == 200
    assert response.json()["result"]["state"] == "-3"
    record = servicenow.get(changes["assess"])
    assert (record["state"], record["on_hold"]) == ("-3", "true")
    assert record["sys_mod_count"] == "1"
    assert record["sys_updated_by"] == DEFAULT_USERNAME


def test_patch_cannot_change_sys_fields(api, servicenow, changes):
    api.patch(f"/api/now/table/change_request/{changes['assess']}", json={"sys_id": "x" * 32})
    assert servicenow.get(changes["assess"])["sys_id"] == changes["assess"]


def test_patch_needs_a_json_object(api, changes):
    response = api.patch(f"/api/now/table/change_request/{changes['assess']}", json=["x"])
    assert response.status_code == 400


def test_patch_of_a_missing_record_is_a_404(api):
    response = api.patch(f"/api/now/table/change_request/{'0' * 32}", json={"state": "3"})
    assert response.status_code == 404
