"""The API tokens page: a signed-in user's own tokens, made and revoked in the browser.

The browser side of ``/api/auth/tokens`` (and of ``pcm-ops tokens``): the list shows each
token's name, prefix, scopes, state, creation, last use and expiry, never its secret; the
form makes one with scopes chosen from the user's own permissions (all of them checked, as
the API and CLI default) and shows its secret on the answer to that POST only; revoking
asks for confirmation first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import PathId
from pcm_ops.security.auth import require
from pcm_ops.security.principal import Principal
from pcm_ops.web.flash import flash
from pcm_ops.web.templating import render

__all__ = ["EXPIRY_CHOICES", "router"]

router = APIRouter(prefix="/tokens", include_in_schema=False)

MANAGE = "core:tokens.manage"

#: The lifetimes the form offers, in days (``""``: never expires), the first one chosen.
EXPIRY_CHOICES: tuple[tuple[str, str], ...] = (
    ("90", "90 days"),
    ("30", "30 days"),
    ("7", "7 days"),
    ("366", "1 year"),
    ("", "Never"),
)

#: The answer that shows a secret must not be kept by the browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}


def _when(moment: datetime | None, never: str = "never") -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else never


def _row(token: Any) -> dict[str, Any]:
    from pcm_ops.security.tokens import token_state

    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "state": token_state(token),
        "created": _when(token.created_at),
        "last_used": _when(token.last_used_at),
        "expires": _when(token.expires_at),
    }


async def _page(
    request: Request,
    session: Any,
    principal: Principal,
    *,
    form: dict[str, Any] | None = None,
    problems: list[tuple[str, str]] | None = None,
    issued: Any = None,
    status_code: int = 200,
) -> HTMLResponse:
    from pcm_ops.security.tokens import list_tokens

    tokens = await list_tokens(session, principal.user_id)
    permissions = request.app.state.permissions.permissions
    scopes = [
        (name, permissions[name].description if name in permissions else "")
        for name in sorted(principal.permissions)
    ]
    context = {
        "tokens": [_row(token) for token in reversed(tokens)],
        "scopes": scopes,
        "expiry_choices": EXPIRY_CHOICES,
        "form": form or {"name": "", "scopes": set(principal.permissions), "expires": "90"},
        "problems": problems or [],
        "issued": issued,
    }
    headers = NO_STORE if issued is not None else None
    return render(request, "core/tokens.html", context, status_code=status_code, headers=headers)


@router.get("", response_class=HTMLResponse, name="tokens")
async def tokens_page(
    request: Request, session: DbSession, principal: Annotated[Principal, require(MANAGE)]
) -> HTMLResponse:
    """The user's tokens and the form to make one."""
    return await _page(request, session, principal)


@router.post("", response_class=HTMLResponse)
async def create_token_form(
    request: Request, session: DbSession, principal: Annotated[Principal, require(MANAGE)]
) -> HTMLResponse:
    """Make a token; the answer shows its secret, this once (not through a redirect: the
    secret never goes into a cookie or an address)."""
    from pcm_ops.api.auth import issue_token
    from pcm_ops.security.tokens import TokenError

    submitted = await request.form()
    name = str(submitted.get("name") or "")
    scopes = [str(value) for value in submitted.getlist("scopes")]
    expires = str(submitted.get("expires_in_days") or "")
    form = {"name": name, "scopes": set(scopes), "expires": expires}
    problems: list[tuple[str, str]] = []
    if not name.strip():
        problems.append(("name", "give the token a name, e.g. the script or CI job using it"))
    elif len(name) > 100:
        problems.append(("name", "use at most 100 characters"))
    if not scopes:
        problems.append(("scopes", "choose at least one permission"))
    expires_in_days: int | None = None
    if expires:
        try:
            expires_in_days = int(expires)
        except ValueError:
            problems.append(("expires_in_days", "choose one of the lifetimes offered"))
    if not problems:
        try:
            issued = await issue_token(session, request, principal, name, scopes, expires_in_days)
        except TokenError as exc:
            problems.append((exc.field, exc.problem))
        else:
            return await _page(request, session, principal, issued=issued, status_code=201)
    return await _page(request, session, principal, form=form, problems=problems, status_code=422)


async def _token_or_404(session: Any, principal: Principal, token_id: int) -> Any:
    from pcm_ops.api.auth import own_token

    token = await own_token(session, principal, token_id)
    if token is None or token.user_id != principal.user_id:
        raise HTTPException(status_code=404, detail=f"You have no token {token_id}.")
    return token


@router.get("/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_confirmation(
    token_id: PathId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> HTMLResponse:
    """Ask before revoking: scripts using the token stop working at once."""
    token = await _token_or_404(session, principal, token_id)
    return render(request, "core/token_revoke.html", {"token": _row(token)})


@router.post("/{token_id}/revoke")
async def revoke_token_form(
    token_id: PathId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(MANAGE)],
) -> Response:
    from pcm_ops.api.auth import withdraw_token

    token = await _token_or_404(session, principal, token_id)
    await withdraw_token(session, request, token)
    response = RedirectResponse(request.url_for("tokens").path, status_code=303)
    flash(response, f"Token {token.name!r} ({token.prefix}…) is revoked.", "success")
    return response
