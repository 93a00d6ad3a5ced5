"""The error answers the script runner's routes declare in OpenAPI.

Service errors become HTTP errors through core (:mod:`pcm_ops.api.errors`): the services
raise :class:`pcm_ops.errors.ServiceError` kinds.
"""

from __future__ import annotations

from typing import Any

#: The error responses routes list in their OpenAPI description.
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The permission is missing."},
    404: {"description": "No such script, version or target source."},
    409: {"description": "The change conflicts: a duplicate name, an archived script."},
    422: {"description": "A field is invalid; `detail[].loc` names it, `detail[].msg` says why."},
}
