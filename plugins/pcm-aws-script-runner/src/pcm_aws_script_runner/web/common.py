"""What every page of the script runner shares: where they are mounted, the template
folder, :func:`page` (a template with the values every page uses), and reading form and
query values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from pcm_aws_script_runner.ids import EXECUTE, MANAGE_SCRIPTS, PAGE_PREFIX, PLUGIN_ID
from pcm_aws_script_runner.services.parameters import PARAMETER_TYPES
from pcm_aws_script_runner.services.validation import LANGUAGES
from pcm_ops.web import render

__all__ = ["BASE", "TEMPLATES", "form_text", "form_values", "page"]

BASE = PAGE_PREFIX
TEMPLATES = f"{PLUGIN_ID}/"


def page(request: Request, template: str, context: Mapping[str, Any], status: int = 200) -> Any:
    """Render ``template`` of the plugin's folder with the values every page uses."""
    values = {
        "sr_base": BASE,
        "languages": LANGUAGES,
        "parameter_types": PARAMETER_TYPES,
        "manage_permission": MANAGE_SCRIPTS,
        "execute_permission": EXECUTE,
        **context,
    }
    return render(request, TEMPLATES + template, values, status_code=status)


def form_text(data: Mapping[str, Any], key: str) -> str:
    """The value of ``key``, stripped; ``""`` when it is missing or not text."""
    value = data.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def form_values(data: Any, key: str) -> list[str]:
    """Every non-empty value of ``key`` (query parameters and forms repeat keys)."""
    return [v.strip() for v in data.getlist(key) if isinstance(v, str) and v.strip()]
