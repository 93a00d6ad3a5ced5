"""The script form reports every problem in one answer, in words and next to its field;
the browser does not stop the submit first with a "Please match the requested format"
that says nothing."""

from __future__ import annotations

import html
import re

import pytest

PAGES = "/tools/aws/script-runner"
pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def test_the_editor_leaves_the_parameter_name_rule_to_the_server(login):
    admin = await login("admin")

    page = await admin.get(f"{PAGES}/scripts/new")

    assert page.status_code == 200
    assert "pattern=" not in page.text


async def test_a_bad_parameter_name_and_a_bad_script_name_are_reported_together(login):
    admin = await login("admin")

    response = await admin.submit(
        f"{PAGES}/scripts/new",
        {
            "name": "bad;name",
            "language": "shell",
            "body": "df -h\n",
            "parameters-0-name": "9path",
            "parameters-0-type": "string",
        },
    )

    assert response.status_code == 422
    messages = [
        html.unescape(m)
        for m in re.findall(r'<p class="sr-field-error" id="[^"]+">([^<]*)</p>', response.text)
    ]
    assert any("'bad;name' is not a valid script name" in m for m in messages), messages
    assert any("'9path' is not a valid parameter name: a letter, then" in m for m in messages), (
        messages
    )
    assert 'value="9path"' in response.text
