"""The fake evaluates encoded queries as ServiceNow documents them."""

import pytest


def numbers(api, query, **params):
    response = api.get(
        "/api/now/table/change_request",
        params={"sysparm_query": query, "sysparm_fields": "number", **params},
    )
    assert response.status_code == 200, response.text
    return [record["number"] for record in response.json()["result"]]


@pytest.mark.usefixtures("changes")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["CHG0000001", "CHG0000002", "CHG0000003", "CHG0000004"]),
        ("state=-1", ["CHG0000001"]),
        ("state!=-1", ["CHG0000002", "CHG0000003", "CHG0000004"]),
        ("state>=3", ["CHG0000003", "CHG0000004"]),
        ("state<-1", ["CHG0000002"]),
        ("state>-4^state<=3", ["CHG0000001", "CHG0000003"]),
        ("stateIN-1,-4", ["CHG0000001", "CHG0000002"]),
        ("stateNOT IN-1,-4", ["CHG0000003", "CHG0000004"]),
        ("short_descriptionLIKEweb", ["CHG0000001", "CHG0000003", "CHG0000004"]),
        ("short_descriptionNOT LIKEweb", ["CHG0000002"]),
        ("short_descriptionNOTLIKEweb", ["CHG0000002"]),
        ("short_descriptionSTARTSWITHpatch", ["CHG0000001"]),
        ("short_descriptionENDSWITHdatabase", ["CHG0000002"]),
        ("assignment_groupISEMPTY", ["CHG0000002", "CHG0000003", "CHG0000004"]),
        ("assignment_groupISNOTEMPTY", ["CHG0000001"]),
        ("type=normal^state=-1^ORstate=-4", ["CHG0000001", "CHG0000002"]),
        ("state=-1^ORstate=3^approval=approved", ["CHG0000001", "CHG0000003"]),
        ("state=3^NQstate=4", ["CHG0000003", "CHG0000004"]),
        ("start_date<=2026-12-05 12:00:00^end_date>=2026-12-05 12:00:00", ["CHG0000001"]),
        ("start_date>2026-12-01 00:00:00", ["CHG0000001", "CHG0000002"]),
        ("assignment_group.name=Linux Ops", ["CHG0000001"]),
        ("assignment_groupLIKElinux", ["CHG0000001"]),
        ("numberANYTHING", ["CHG0000001", "CHG0000002", "CHG0000003", "CHG0000004"]),
        ("state=-1^EQ", ["CHG0000001"]),
    ],
)
def test_conditions(api, query, expected):
    assert numbers(api, query) == expected


@pytest.mark.usefixtures("changes")
def test_a_reference_compares_by_sys_id(api, changes, servicenow):
    group = servicenow.get(changes["implement"])["assignment_group"]
    assert numbers(api, f"assignment_group={group}") == ["CHG0000001"]


@pytest.mark.usefixtures("changes")
def test_orderby_and_orderbydesc(api):
    assert numbers(api, "ORDERBYDESCstart_date") == [
        "CHG0000002",
        "CHG0000001",
        "CHG0000004",
        "CHG0000003",
    ]
    assert numbers(api, "ORDERBYtype^ORDERBYDESCnumber") == [
        "CHG0000004",
        "CHG0000002",
        "CHG0000001",
        "CHG0000003",
    ]


@pytest.mark.usefixtures("changes")
def test_numbers_sort_as_numbers(api):
    assert numbers(api, "ORDERBYstate") == ["CHG0000002", "CHG0000001", "CHG0000003", "CHG0000004"]


@pytest.mark.usefixtures("changes")
def test_a_search_with_its_caret_removed_is_one_like_condition(api):
    # What the client sends for the search text "x^ORactive=true": it matches nothing.
    assert numbers(api, "short_descriptionLIKEx ORactive=true") == []


@pytest.mark.usefixtures("changes")
def test_a_pasted_caret_would_have_changed_the_query(api):
    # Why the client never pastes text: the same words with '^' match every change.
    assert len(numbers(api, "short_descriptionLIKEx^ORnumberISNOTEMPTY")) == 4


@pytest.mark.usefixtures("changes")
@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("colour=red", "unknown field 'colour'"),
        ("state", "no operator"),
        ("=3", "does not start with a field name"),
        ("ORstate=3", "no condition before it"),
        ("stateISEMPTYx", "takes no value"),
        ("ORDERBYcolour", "cannot order by 'colour'"),
    ],
)
def test_an_invalid_query_is_a_400_naming_the_problem(api, query, problem):
    response = api.get("/api/now/table/change_request", params={"sysparm_query": query})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failure"
    assert body["error"]["message"] == "Invalid query"
    assert problem in body["error"]["detail"]


def test_a_parent_table_holds_the_records_of_the_tables_extending_it(api, servicenow):
    vm = servicenow.add("cmdb_ci_vm_instance", name="web-01", object_id="i-0abc")
    server = servicenow.add("cmdb_ci_linux_server", name="web-01.example", host_name="web-01")
    servicenow.add("cmdb_ci_aws_datacenter", name="us-east-1", region="us-east-1")
    response = api.get(
        "/api/now/table/cmdb_ci",
        params={"sysparm_query": "nameSTARTSWITHweb", "sysparm_fields": "sys_id,sys_class_name"},
    )
    assert response.json()["result"] == [
        {"sys_id": vm, "sys_class_name": "cmdb_ci_vm_instance"},
        {"sys_id": server, "sys_class_name": "cmdb_ci_linux_server"},
    ]
    servers = api.get("/api/now/table/cmdb_ci_server", params={"sysparm_fields": "sys_id"})
    assert servers.json()["result"] == [{"sys_id": server}]


def test_task_ci_links_a_change_to_its_cis(api, servicenow, changes):
    ci = servicenow.add("cmdb_ci_vm_instance", name="web-01", object_id="i-0abc")
    servicenow.add("task_ci", task=changes["implement"], ci_item=ci)
    response = api.get(
        "/api/now/table/task_ci",
        params={
            "sysparm_query": "task.number=CHG0000001",
            "sysparm_fields": "ci_item,ci_item.object_id",
            "sysparm_exclude_reference_link": "true",
        },
    )
    assert response.json()["result"] == [{"ci_item": ci, "ci_item.object_id": "i-0abc"}]


def test_relations_by_their_type(api, servicenow):
    vm = servicenow.add("cmdb_ci_vm_instance", name="web-01", object_id="i-0abc")
    datacenter = servicenow.add("cmdb_ci_aws_datacenter", name="us-east-1", region="us-east-1")
    servicenow.relate(vm, datacenter)
    servicenow.relate(vm, servicenow.add("cmdb_ci", name="app"), "Depends on::Used by")
    response = api.get(
        "/api/now/table/cmdb_rel_ci",
        params={
            "sysparm_query": f"parentIN{vm}^typeLIKEHosted on",
            "sysparm_fields": "child.region,type.name",
        },
    )
    assert response.json()["result"] == [
        {"child.region": "us-east-1", "type.name": "Hosted on::Hosts"}
    ]
