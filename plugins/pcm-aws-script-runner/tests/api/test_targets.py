"""``/api/tools/aws/script-runner/target-sources``: the sources other plugins supply, and a
preview of the instances a reference resolves to."""

from __future__ import annotations

import pytest

from pcm_ops.testing import issue_api_token

SOURCES = "/api/tools/aws/script-runner/target-sources"

# The sources come from plugins, not from the database: run once.
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
async def app_with_sources(pcm_migrated_database, make_pcm_app, hook_plugins):
    return make_pcm_app("aws-script-runner", *hook_plugins("check_passes"))


async def bearer(app, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await issue_api_token(app, role=role)}"}


async def test_viewers_see_the_sources_with_their_plugins(app_with_sources, running_client):
    async with running_client(app_with_sources) as client:
        response = await client.get(SOURCES, headers=await bearer(app_with_sources, "viewer"))

    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "static-fleet",
            "display_name": "Static fleet",
            "description": "A fleet name.",
            "plugin": "sr-check-passes",
        }
    ]


async def test_operators_preview_the_instances_of_a_reference(app_with_sources, running_client):
    async with running_client(app_with_sources) as client:
        response = await client.post(
            f"{SOURCES}/static-fleet/resolve",
            json={"reference": "gov"},
            headers=await bearer(app_with_sources, "operator"),
        )

    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "instance_id": "mi-0123456789abcdef0",
            "account_id": "444455556666",
            "region": "us-gov-west-1",
            "label": "",
        }
    ]


async def test_viewers_may_not_resolve_references(app_with_sources, running_client):
    async with running_client(app_with_sources) as client:
        response = await client.post(
            f"{SOURCES}/static-fleet/resolve",
            json={"reference": "web"},
            headers=await bearer(app_with_sources, "viewer"),
        )

    assert response.status_code == 403
    assert "aws-script-runner:execute" in response.json()["detail"]


@pytest.mark.parametrize(
    ("source", "reference", "status", "detail"),
    [
        ("cmdb", "web", 404, "there is no target source 'cmdb'; known: static-fleet"),
        (
            "static-fleet",
            "db",
            422,
            [
                {
                    "loc": ["body", "reference"],
                    "msg": "target source 'static-fleet' (plugin 'sr-check-passes') cannot "
                    "resolve 'db': there is no fleet 'db'",
                    "type": "value_error",
                }
            ],
        ),
        (
            "static-fleet",
            "down",
            502,
            "target source 'static-fleet' (plugin 'sr-check-passes') cannot resolve 'down': "
            "the fleet database is down",
        ),
        (
            "static-fleet",
            " ",
            422,
            [{"loc": ["body", "reference"], "msg": "must not be empty", "type": "value_error"}],
        ),
    ],
)
async def test_resolution_failures_say_what_went_wrong(
    app_with_sources, running_client, source, reference, status, detail
):
    async with running_client(app_with_sources) as client:
        response = await client.post(
            f"{SOURCES}/{source}/resolve",
            json={"reference": reference},
            headers=await bearer(app_with_sources, "operator"),
        )

    assert (response.status_code, response.json()["detail"]) == (status, detail)


async def test_without_source_plugins_the_list_is_empty(pcm_admin_client):
    response = await pcm_admin_client.get(SOURCES)

    assert response.json() == []
