"""Test support for code that talks to ServiceNow: a fake of the REST Table API served over
real HTTP, and pytest fixtures for it.

For this repository, for demo mode and for other plugin authors::

    from pcm_servicenow_cmdb.testing import FakeServiceNow

    with FakeServiceNow() as sn:                 # 127.0.0.1, a free port
        change = sn.add("change_request", short_description="Patch", state=-1)
        ...                                      # point a client at sn.url

or, in pytest, the fixtures of :mod:`pcm_servicenow_cmdb.testing.fixtures` (loaded by itself
where this package is installed): ``servicenow_fake``, ``servicenow``, ``servicenow_settings``.

Nothing heavy is imported here: pytest imports this package in every run where it is
installed. The names below load Starlette and uvicorn on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_servicenow_cmdb.testing.fake import (
        DEFAULT_PASSWORD,
        DEFAULT_USERNAME,
        FakeServiceNow,
        RecordedRequest,
    )

_EXPORTS = {
    "DEFAULT_PASSWORD": "pcm_servicenow_cmdb.testing.fake",
    "DEFAULT_USERNAME": "pcm_servicenow_cmdb.testing.fake",
    "FakeServiceNow": "pcm_servicenow_cmdb.testing.fake",
    "RecordedRequest": "pcm_servicenow_cmdb.testing.fake",
}

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USERNAME", "FakeServiceNow", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pcm_servicenow_cmdb.testing' has no attribute {name!r}")
    return getattr(import_module(module), name)
