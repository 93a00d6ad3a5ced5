"""The JSON API, mounted under ``/api/tools/servicenow/cmdb``: one router per resource."""

from __future__ import annotations

from typing import Any


def routers() -> list[Any]:
    from pcm_servicenow_cmdb.api.changes import router as changes
    from pcm_servicenow_cmdb.api.cmdb import router as cmdb
    from pcm_servicenow_cmdb.api.connections import router as connections

    return [connections, changes, cmdb]
