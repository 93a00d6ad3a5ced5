"""The error answers aws-common's routes declare in OpenAPI.

Service errors become HTTP errors through core (:mod:`pcm_ops.api.errors`): the services
raise :class:`pcm_ops.errors.ServiceError` kinds.
"""

from __future__ import annotations

#: The error responses routes list in their OpenAPI description.
RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "The permission is missing."},
    404: {"description": "No such object (or one the caller may not see)."},
    409: {"description": "The change conflicts with other objects."},
    422: {"description": "A field is invalid; `detail[].loc` names it."},
    502: {"description": "AWS could not be reached, or refused the platform's credentials."},
}
