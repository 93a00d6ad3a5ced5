"""The "mine" filter: changes assigned to one of the current user's ServiceNow groups, by
the ``groups`` setting (PCM-Ops username -> assignment group names), in the API, the
change browser and the CLI, against the fake ServiceNow over HTTP."""

from __future__ import annotations

import httpx
import pytest

from pcm_ops.errors import ConfigError

API = "/api/tools/servicenow/cmdb/changes"
PAGES = "/tools/servicenow/cmdb"
HTML = {"Accept": "text/html"}
GROUPS = {"alice": ["Linux Ops", "DBA"], "bob": ["Network"]}


@pytest.fixture
def pcm_settings(make_pcm_settings):
    return make_pcm_settings(plugin_sections={"servicenow-cmdb": {"groups": GROUPS}})


@pytest.fixture
def assigned(connected):
    """Three changes: one per group of alice's and one of the Network group's."""
    sn = connected
    numbers = {}
    for group in ("Linux Ops", "DBA", "Network"):
        group_id = sn.add("sys_user_group", name=group)
        change = sn.add(
            "change_request", short_description=f"Work of {group}", assignment_group=group_id
        )
        numbers[group] = sn.get(change)["number"]
    return numbers


async def client_of(pcm_app, pcm_running_app, username: str, role: str = "viewer"):
    from pcm_ops.testing import issue_api_token

    token = await issue_api_token(pcm_app, role=role, username=username)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=pcm_running_app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_mine_lists_the_changes_of_my_groups_only(pcm_app, pcm_running_app, assigned):
    async with await client_of(pcm_app, pcm_running_app, "alice") as alice:
        mine = await alice.get(API, params={"mine": "true"})
        everything = await alice.get(API)

    assert mine.status_code == 200, mine.text
    assert sorted(c["number"] for c in mine.json()) == sorted(
        [assigned["Linux Ops"], assigned["DBA"]]
    )
    assert {c["assignment_group"] for c in mine.json()} == {"Linux Ops", "DBA"}
    assert len(everything.json()) == 3


async def test_mine_without_a_mapping_says_so_instead_of_an_empty_list(
    pcm_app, pcm_running_app, assigned
):
    async with await client_of(pcm_app, pcm_running_app, "carol") as carol:
        answer = await carol.get(API, params={"mine": "true"})

    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert detail["loc"][-1] == "mine"
    assert "no ServiceNow assignment groups are configured for user 'carol'" in detail["msg"]


async def test_the_change_browser_filters_by_my_groups(pcm_app, pcm_running_app, assigned):
    async with await client_of(pcm_app, pcm_running_app, "bob") as bob:
        page = await bob.get(f"{PAGES}/", params={"mine": "true"}, headers=HTML)

    assert page.status_code == 200, page.text
    assert assigned["Network"] in page.text
    assert assigned["DBA"] not in page.text
    assert "Assigned to Network." in page.text
    assert 'name="mine" value="true" checked' in page.text


async def test_the_change_browser_explains_a_missing_mapping(pcm_app, pcm_running_app, assigned):
    async with await client_of(pcm_app, pcm_running_app, "carol") as carol:
        page = await carol.get(f"{PAGES}/", params={"mine": "true"}, headers=HTML)

    assert page.status_code == 422
    assert 'id="mine-problem"' in page.text
    assert "configured for user &#39;carol&#39;" in page.text
    assert assigned["DBA"] not in page.text  # no rows: the filter could not be applied


@pytest.mark.parametrize(
    "groups",
    [{"alice": ["Linux Ops^ORactive=true"]}, {"alice": ["A,B"]}, {"alice": [""]}, {" ": ["X"]}],
)
def test_group_names_that_would_change_the_query_are_refused(make_pcm_settings, groups):
    from pcm_ops.discovery import discover

    settings = make_pcm_settings(plugin_sections={"servicenow-cmdb": {"groups": groups}})

    with pytest.raises(ConfigError, match=r"servicenow-cmdb\.groups"):
        discover(settings)
