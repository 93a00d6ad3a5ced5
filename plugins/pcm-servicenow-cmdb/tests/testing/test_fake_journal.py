"""work_notes and comments are journal fields: writes append, nothing is overwritten."""


def test_work_notes_are_appended_never_overwritten(api, servicenow, changes):
    path = f"/api/now/table/change_request/{changes['implement']}"
    first = api.patch(path, json={"work_notes": "Run 1 started"})
    api.patch(path, json={"work_notes": "Run 1 ended: 3 succeeded"})
    assert servicenow.journal(changes["implement"]) == ["Run 1 started", "Run 1 ended: 3 succeeded"]
    assert first.json()["result"]["work_notes"] == ""
    assert servicenow.get(changes["implement"])["work_notes"] == ""


def test_an_empty_work_note_adds_nothing(api, servicenow, changes):
    api.patch(f"/api/now/table/change_request/{changes['implement']}", json={"work_notes": ""})
    assert servicenow.journal(changes["implement"]) == []


def test_comments_are_a_journal_of_their_own(api, servicenow, changes):
    api.patch(
        f"/api/now/table/change_request/{changes['implement']}",
        json={"comments": "visible to the requester", "work_notes": "internal"},
    )
    assert servicenow.journal(changes["implement"], "comments") == ["visible to the requester"]
    assert servicenow.journal(changes["implement"]) == ["internal"]


def test_the_journal_is_readable_through_the_api(api, changes):
    sys_id = changes["implement"]
    api.patch(f"/api/now/table/change_request/{sys_id}", json={"work_notes": "hello"})
    response = api.get(
        "/api/now/table/sys_journal_field",
        params={
            "sysparm_query": f"element_id={sys_id}^element=work_notes",
            "sysparm_fields": "value,name,sys_created_by",
        },
    )
    assert response.json()["result"] == [
        {"value": "hello", "name": "change_request", "sys_created_by": "pcm.integration"}
    ]


def test_the_display_value_of_work_notes_is_the_journal_newest_first(api, changes):
    path = f"/api/now/table/change_request/{changes['implement']}"
    api.patch(path, json={"work_notes": "first"})
    api.patch(path, json={"work_notes": "second"})
    shown = api.get(
        path, params={"sysparm_fields": "work_notes", "sysparm_display_value": "true"}
    ).json()["result"]["work_notes"]
    assert shown.index("second") < shown.index("first")
    assert "PCM-Ops Integration (Work notes)\nsecond\n\n" in shown


def test_work_notes_given_to_add_start_the_journal(servicenow):
    sys_id = servicenow.add("change_request", work_notes="Created by the demo")
    assert servicenow.journal(sys_id) == ["Created by the demo"]
    assert servicenow.get(sys_id)["work_notes"] == ""
