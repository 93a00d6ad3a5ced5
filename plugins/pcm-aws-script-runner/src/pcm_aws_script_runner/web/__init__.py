"""The plugin's web pages, mounted under ``/tools/aws/script-runner``: one router per
resource. Pages read and write through the same services as the JSON API. Forms carry the
session's CSRF token in a hidden ``csrf_token`` field; core checks it before a route runs.
"""

from __future__ import annotations

from typing import Any


def routers() -> list[Any]:
    """The pages' routers, in matching order: the run form's ``/executions/new`` comes
    before ``/executions/{id}``."""
    from pcm_aws_script_runner.web import executions, inventory, run_form, scripts

    return [scripts.router, inventory.router, run_form.router, executions.router]
