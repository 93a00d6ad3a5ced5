"""The run form's problems: every one at once (parameters, rate control, timeouts, output
and targets in one answer), in words an operator reads, next to its field, with a summary
at the top that links to the fields, and what was typed kept."""

from __future__ import annotations

import html
import re

import pytest

pytestmark = [
    pytest.mark.pcm_plugins("aws-common", "aws-script-runner"),
    pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True),
]

PAGES = "/tools/aws/script-runner"
NEW = f"{PAGES}/executions/new"


def field_errors(page: str) -> dict[str, list[str]]:
    """Field name → the messages shown next to it."""
    found: dict[str, list[str]] = {}
    for name, message in re.findall(
        r'<p class="sr-field-error" id="error-([^"]+)-\d+">([^<]*)</p>', page
    ):
        found.setdefault(name, []).append(html.unescape(message))
    return found


async def test_every_problem_is_reported_at_once_in_words_next_to_its_field(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script(
        "typed", parameters=[{"name": "count", "type": "integer", "required": True}]
    )

    page = await operator.submit(
        NEW,
        {
            "script_id": str(script_id),
            "action": "run",
            "p_count": "three",
            "max_concurrency": "lots",
            "delivery_timeout_seconds": "soon",
            "output_s3_prefix": "runs/",
            "instance_ids": "i-0123456789abcdef0",
        },
    )

    assert page.status_code == 422
    text = page.text
    assert field_errors(text) == {
        "parameters.count": ["“three” is not a whole number: type digits only, like 3 or -12"],
        "max_concurrency": ["'lots' is not a number of instances or a percentage like '10%'"],
        "delivery_timeout_seconds": ["must be a whole number of seconds from 30 to 2592000"],
        "output_s3_prefix": ["give output_s3_bucket too"],
        "instance_ids": [
            "not in the inventory: i-0123456789abcdef0; sync the inventory (Fleet page, Sync now)"
        ],
    }
    # The summary at the top counts them, links to each field, and takes the focus.
    assert "Nothing was started. 5 problems to correct" in text
    assert '<div class="form-error" role="alert" id="run-problems" tabindex="-1" autofocus>' in (
        text
    )
    for anchor in (
        "p_count",
        "max_concurrency",
        "delivery_timeout_seconds",
        "output_s3_prefix",
        "instance_ids",
    ):
        assert f'<li><a href="#{anchor}">' in text
        assert f'id="{anchor}"' in text
    # What was typed stays.
    assert 'id="p_count" name="p_count" value="three"' in text
    assert 'id="delivery_timeout_seconds" name="delivery_timeout_seconds" value="soon"' in text
    assert ">i-0123456789abcdef0</textarea>" in text
    assert (await fleet.get("/executions")).json()["total"] == 0


async def test_an_integer_parameter_is_left_to_the_server_to_explain(make_fleet, operator):
    """No ``pattern``: the browser's "Please match the requested format" says nothing,
    and it stops the submit before the other problems are found."""
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script(
        "typed", parameters=[{"name": "count", "type": "integer", "default": 3}]
    )

    page = await operator.get(NEW, params={"script_id": script_id})

    field = re.search(r'<input[^>]*id="p_count"[^>]*>', page.text)
    assert field is not None
    assert "pattern=" not in field.group(0)
    assert 'inputmode="numeric"' in field.group(0)


async def test_no_instance_given_says_how_to_give_them(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script()

    page = await operator.submit(
        NEW, {"script_id": str(script_id), "action": "preview", "instance_ids": ""}
    )

    assert page.status_code == 422
    assert field_errors(page.text) == {
        "instance_ids": ["give at least one instance id, or choose the instances on the Fleet page"]
    }
    assert "exactly one of" not in page.text


async def test_a_wrong_filter_from_the_fleet_page_never_runs_on_every_instance(
    make_fleet, operator
):
    fleet = await make_fleet(us_east_1=2)
    script_id = await fleet.script()

    page = await operator.submit(
        NEW,
        {
            "script_id": str(script_id),
            "action": "run",
            "f_region": "nowhere",
            "max_errors": "many",
        },
    )

    assert page.status_code == 422
    errors = field_errors(page.text)
    assert errors["instance_ids"] == [
        "f_region: 'nowhere' is not an AWS region name (like us-east-1, us-gov-west-1)"
    ]
    assert errors["max_errors"] == [
        "'many' is not a number of instances or a percentage like '10%'"
    ]
    assert (await fleet.get("/executions")).json()["total"] == 0


async def test_a_tag_filter_too_long_is_explained_in_words(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    script_id = await fleet.script()

    page = await operator.get(NEW, params={"script_id": script_id, "f_tag": "k" * 129})

    assert field_errors(page.text)["instance_ids"] == [
        "f_tag: a tag filter is 'key=value' or 'key'; the key is too long: at most 128 characters"
    ]
    assert "String should" not in page.text


async def test_the_fleet_pages_run_button_with_nothing_selected_says_so(make_fleet, operator):
    fleet = await make_fleet(us_east_1=1)
    await fleet.script()

    page = await operator.get(NEW, params={"fleet_selection": "1"})

    assert page.status_code == 422
    assert field_errors(page.text) == {
        "instance_ids": [
            "no instance was selected on the Fleet page: select at least one instance "
            "there, or type instance ids here"
        ]
    }
