"""The run form: who may open it, what its address prefills, Preview's plan, Run, the
problems shown next to their fields, CSRF, and cloning without secrets in the page."""

from __future__ import annotations

import html
import re

import pytest

#: The fleet lives in the fake AWS: aws-common is loaded too.
pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

PAGES = "/tools/aws/script-runner"
NEW = f"{PAGES}/executions/new"


def hidden_fields(page: str) -> list[tuple[str, str]]:
    return [
        (name, html.unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
        if name != "csrf_token"
    ]


def run_fields(script_id: int, **fields: str) -> dict[str, str]:
    return {"script_id": str(script_id), "action": "run", **fields}


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_a_viewer_cannot_open_the_run_form(viewer):
    response = await viewer.get(NEW)

    assert response.status_code == 403


async def test_the_address_prefills_script_version_and_instances(
    make_fleet, operator, assert_no_inline_code
):
    fleet = await make_fleet(us_east_1=2)
    script_id = await fleet.script()
    a, b = fleet.instances["us-east-1"]

    page = await operator.get(
        NEW,
        params=[("script_id", script_id), ("version", 1), ("instance_id", a), ("instance_id", b)],
    )

    assert page.status_code == 200
    text = page.text
    assert f'<option value="{script_id}" selected>hello</option>' in text
    assert '<option value="1" selected>v1 (current)' in text
    assert hidden_fields(text) == [
        ("version_of", str(script_id)),
        ("instance_id", a),
        ("instance_id", b),
    ]
    assert "2 instances chosen by id" in text
    assert 'name="instance_ids"' not in text  # no textarea: the targets are chosen
    assert (
        'id="p_who" name="p_who" value="" maxlength="4096" data-carry placeholder="default: world"'
        in text
    )
    assert '<input class="form__input" type="password" id="p_token" name="p_token" value=""' in text
    assert f'name="csrf_token" value="{operator.csrf}"' in text
    # Changing the script or version reloads the form with htmx, carrying no secret.
    assert 'hx-get="/tools/aws/script-runner/executions/new" hx-include="[data-carry]"' in text
    assert 'name="p_token" value="" autocomplete="new-password" hx-preserve="true"' in text
    assert_no_inline_code(text)


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_the_fleet_pages_filter_means_every_matching_instance(make_fleet, operator):
    fleet = await make_fleet(us_east_1=2, eu_west_1=1, us_west_2=1)
    script_id = await fleet.script()

    page = await operator.get(
        NEW,
        params=[
            ("script_id", script_id),
            ("f_account_id", fleet.account_id),
            ("f_region", "us-east-1"),
            ("f_region", "eu-west-1"),
            ("f_tag", "Team=web"),
            ("f_tag", "Env"),
            ("f_search", "web"),
        ],
    )
    preview = await operator.submit(
        NEW,
        [("script_id", str(script_id)), ("action", "preview")]
        + [pair for pair in hidden_fields(page.text) if pair[0].startswith("f_")],
    )

    assert page.status_code == 200
    assert (
        f"Every instance matching: accounts {fleet.account_id}; regions us-east-1, eu-west-1; "
        "tag Team=web; tag Env; search “web”; resolved when the run starts"
    ) in page.text
    assert [pair for pair in hidden_fields(page.text) if pair[0].startswith("f_")] == [
        ("f_account_id", fleet.account_id),
        ("f_region", "us-east-1"),
        ("f_region", "eu-west-1"),
        ("f_tag", "Team=web"),
        ("f_tag", "Env"),
        ("f_q", "web"),
    ]
    # The test inventory has no tag rows: the tag conditions match no instance.
    assert preview.status_code == 422
    assert "resolves to no instance" in preview.text
    matching = await operator.submit(
        NEW,
        {
            "script_id": str(script_id),
            "action": "preview",
            "f_account_id": fleet.account_id,
            "f_region": "us-east-1",
        },
    )
    assert matching.status_code == 200, matching.text
    assert '<strong id="preview-instances">2</strong> will run' in matching.text


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_a_wrong_filter_from_the_address_is_explained(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    await fleet.script()

    page = await operator.get(NEW, params={"f_region": "nowhere"})

    assert page.status_code == 200
    assert "an inventory filter that is not valid" in page.text
    assert "f_region" in page.text
    assert "form-error" in page.text


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_a_saved_filter_from_the_fleet_page_is_named(make_fleet, operator, pcm_app):
    from pcm_aws_script_runner.models import AwsSrSavedFilter

    await make_fleet(us_east_1=1)
    async with pcm_app.state.database.session() as session:
        saved = AwsSrSavedFilter(
            name="web servers", name_key="web servers", filter={}, created_by="ada"
        )
        session.add(saved)
        await session.flush()
        saved_id = saved.id

    page = await operator.get(NEW, params={"saved_filter": saved_id})

    assert "Every instance matching the saved filter “web servers”" in page.text
    assert ("saved_filter", str(saved_id)) in hidden_fields(page.text)


async def test_preview_shows_the_plan_and_starts_nothing(make_fleet, operator, pcm_app):
    from sqlalchemy import update

    from pcm_aws_script_runner.models import AwsSrInstance

    fleet = await make_fleet(us_east_1=2, eu_west_1=1)
    script_id = await fleet.script()
    offline = fleet.instances["us-east-1"][1]
    async with pcm_app.state.database.session() as session:
        await session.exec(
            update(AwsSrInstance)
            .where(AwsSrInstance.instance_id == offline)
            .values(ping_status="ConnectionLost")
        )

    page = await operator.submit(
        NEW,
        {
            "script_id": str(script_id),
            "action": "preview",
            "instance_ids": "\n".join(fleet.all_ids()),
            "p_who": "ops",
            "p_token": "s3cr3t",
            "max_concurrency": "50%",
        },
    )

    assert page.status_code == 200, page.text
    text = page.text
    assert 'id="run-preview"' in text
    assert '<strong id="preview-instances">2</strong> will run, <strong>1</strong> skipped' in text
    assert (
        f'<tr><th scope="row">{fleet.account_id}</th><td>us-east-1</td><td>1</td><td>1</td>'
        "<td>1</td></tr>"
    ) in text
    assert (
        f'<tr><th scope="row">{fleet.account_id}</th><td>eu-west-1</td><td>1</td><td>0</td>' in text
    )
    assert f"<code>{offline}</code>" in text
    assert "SSM agent is ConnectionLost, not Online" in text
    assert "50% (1 at once)" in text
    assert "<code>who=ops</code>" in text
    assert "<code>token=********</code>" in text
    assert "s3cr3t" not in text
    assert 'value="50%"' in text  # what was typed stays
    history = (await fleet.get("/executions")).json()
    assert history["total"] == 0


async def test_run_starts_the_execution_and_goes_to_its_page(make_fleet, operator):
    fleet = await make_fleet(us_east_1=2)
    script_id = await fleet.script()

    response = await operator.submit(
        NEW,
        run_fields(
            script_id,
            instance_ids=", ".join(fleet.all_ids()),
            p_who="ops",
            comment="from the form",
            change_reference="CHG0000007",
            delivery_timeout_seconds="120",
        ),
    )

    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(rf"{PAGES}/executions/\d+", location)
    execution = (await fleet.get(f"/executions/{location.rsplit('/', 1)[1]}")).json()
    assert execution["parameters"] == {"who": "ops"}
    assert execution["comment"] == "from the form"
    assert execution["change_reference"] == "CHG0000007"
    assert execution["delivery_timeout_seconds"] == 120
    assert execution["requested_by"] == "operator-0"
    assert execution["target_count"] == 2
    shown = await operator.get(location)
    assert f"Execution #{execution['id']} started." in shown.text
    await fleet.wait(execution["id"])


async def test_htmx_gets_a_redirect_header_after_run(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script()

    response = await operator.submit(
        NEW, run_fields(script_id, instance_ids=fleet.all_ids()[0]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 204
    assert re.fullmatch(rf"{PAGES}/executions/\d+", response.headers["hx-redirect"])
    await fleet.wait(int(response.headers["hx-redirect"].rsplit("/", 1)[1]))


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_problems_are_shown_next_to_their_fields_keeping_what_was_typed(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script(
        "typed",
        parameters=[{"name": "count", "type": "integer", "required": True}],
    )

    wrong_type = await operator.submit(
        NEW, run_fields(script_id, instance_ids=fleet.all_ids()[0], p_count="three")
    )
    wrong_options = await operator.submit(
        NEW,
        run_fields(
            script_id,
            instance_ids=fleet.all_ids()[0],
            p_count="3",
            max_concurrency="lots",
            output_s3_prefix="runs/",
        ),
    )

    assert (wrong_type.status_code, wrong_options.status_code) == (422, 422)
    assert "Nothing was started. 1 problem to correct" in wrong_type.text
    assert (
        'id="error-parameters.count-1">“three” is not a whole number: type digits only, '
        "like 3 or -12</p>"
    ) in wrong_type.text
    assert 'id="p_count" name="p_count" value="three"' in wrong_type.text
    text = wrong_options.text
    assert 'id="error-max_concurrency-1">' in text
    assert "is not a number of instances or a percentage" in text
    assert 'id="error-output_s3_prefix-1">give output_s3_bucket too</p>' in text
    assert 'id="max_concurrency" name="max_concurrency" value="lots"' in text
    assert 'aria-invalid="true" aria-describedby="error-max_concurrency-1"' in text
    assert (await fleet.get("/executions")).json()["total"] == 0

    unknown = await operator.submit(
        NEW, run_fields(script_id, instance_ids="i-0123456789abcdef0", p_count="3")
    )

    assert unknown.status_code == 422
    assert 'id="error-instance_ids-1">not in the inventory: i-0123456789abcdef0' in unknown.text
    assert ">i-0123456789abcdef0</textarea>" in unknown.text


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_the_form_refuses_a_post_without_the_csrf_token(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script()

    response = await operator.post(NEW, data=run_fields(script_id, instance_ids=fleet.all_ids()[0]))

    assert response.status_code == 403
    assert (await fleet.get("/executions")).json()["total"] == 0


@pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)
async def test_a_viewer_cannot_run_through_the_form(make_fleet, viewer):
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script()

    response = await viewer.submit(NEW, run_fields(script_id, instance_ids=fleet.all_ids()[0]))

    assert response.status_code == 403
    assert (await fleet.get("/executions")).json()["total"] == 0


async def test_clone_prefills_everything_but_secrets_and_reuses_them_when_left_empty(
    make_fleet, operator, pcm_app
):
    from pcm_aws_script_runner.models import AwsSrExecution

    fleet = await make_fleet(us_east_1=2)
    source = await fleet.start(
        parameters={"who": "ops", "token": "s3cr3t"}, comment="nightly", max_errors="1"
    )
    await fleet.wait(source["id"])

    form = await operator.get(NEW, params={"clone": source["id"]})

    assert form.status_code == 200
    text = form.text
    assert "s3cr3t" not in text
    assert 'id="p_who" name="p_who" value="ops"' in text
    assert 'id="p_token" name="p_token" value=""' in text
    assert f"Leave empty to reuse the value stored with execution #{source['id']}" in text
    assert 'id="comment" name="comment" value="nightly"' in text
    assert 'id="max_errors" name="max_errors" value="1"' in text
    assert "2 instances chosen by id" in text
    assert ("clone", str(source["id"])) in hidden_fields(text)

    response = await operator.submit(
        NEW,
        run_fields(
            source["script_id"],
            clone=str(source["id"]),
            version="1",
            p_who="ops",
            p_token="",
            comment="nightly, again",
        ),
    )

    assert response.status_code == 303, response.text
    clone_id = int(response.headers["location"].rsplit("/", 1)[1])
    async with pcm_app.state.database.session() as session:
        clone = await session.get(AwsSrExecution, clone_id)
    assert clone is not None
    assert clone.secret_parameters is not None
    assert "s3cr3t" in clone.secret_parameters
    assert clone.parameters == {"who": "ops", "token": "********"}
    assert (clone.rerun_of, clone.rerun_kind) == (source["id"], "clone")
    assert clone.target_spec["instance_ids"] == source["target_spec"]["instance_ids"]
    await fleet.wait(clone_id)
