"""The OpenAPI document and Swagger UI, behind authentication like every other route.

FastAPI's built-in pages load Swagger UI from a CDN with an inline script; ours come from
the npm package vendored into /static/vendor and a script file, so they work offline and
under the Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from pcm_ops.security.auth import require
from pcm_ops.security.permissions import AUTHENTICATED
from pcm_ops.security.principal import Principal

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PCM-Ops API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui.css">
<link rel="stylesheet" href="/static/css/api-docs.css"></head>
<body><div id="swagger-ui" data-openapi-url="/openapi.json" data-csrf-token="{csrf}"></div>
<script src="/static/vendor/swagger-ui-bundle.js"></script>
<script src="/static/js/api-docs.js"></script></body></html>
"""


@router.get("/openapi.json")
async def openapi_document(
    request: Request, _: Annotated[Principal, require(AUTHENTICATED)]
) -> Any:
    from pcm_ops.security.auth import ALWAYS_PUBLIC

    public = ALWAYS_PUBLIC | set(request.app.state.settings.public_paths)
    return JSONResponse(with_security(request.app.openapi(), public))


#: The schemes an operation accepts: either an API token or a browser session.
SECURITY: list[dict[str, list[str]]] = [{"apiToken": []}, {"session": []}]


def with_security(
    document: dict[str, Any], public_paths: Collection[str] = ("/api/auth/login",)
) -> dict[str, Any]:
    """``document`` declaring how its operations are authenticated: an API token
    (``Authorization: Bearer pcm_...``, what Swagger UI's *Authorize* asks for) or the
    browser session's cookie, as the document's default and on every protected operation;
    the operations of ``public_paths`` (sign-in, health) say they need nothing."""
    from pcm_ops.security.sessions import COOKIE_NAME

    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(
        {
            "apiToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token: `pcm-ops tokens create` or POST /api/auth/tokens.",
            },
            "session": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME},
        }
    )
    document["security"] = SECURITY
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if isinstance(operation, dict):
                operation["security"] = [] if path in public_paths else SECURITY
    return document


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(principal: Annotated[Principal, require(AUTHENTICATED)]) -> Any:
    return HTMLResponse(_PAGE.format(csrf=escape(principal.csrf_token or "")))
