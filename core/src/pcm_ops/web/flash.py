"""Flash notifications: one-time messages shown on the next page a browser renders.

A route handler calls :func:`flash` and usually redirects; the next page rendered with
:func:`pcm_ops.web.render` shows the message once, and it is gone after that::

    from fastapi.responses import RedirectResponse
    from pcm_ops.web import flash

    @router.post("/scripts")
    async def create_script(request: Request) -> RedirectResponse:
        ...
        flash(request, "Script saved.", "success")
        return RedirectResponse(request.url_for("scripts"), status_code=303)

Messages travel in a short-lived cookie named ``pcm_flash`` (HttpOnly, SameSite=Lax, path
``/``). It is not signed: it carries display text only, and templates escape it when they
show it. Core's request middleware (:func:`write_flash_cookie`) writes the cookie for
messages flashed on a request and clears it once the messages have been shown.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Literal

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope

__all__ = ["CATEGORIES", "FLASH_COOKIE", "Flash", "FlashMessages", "flash"]

FLASH_COOKIE = "pcm_flash"

#: The categories a message may have; each has its own colour and icon in the UI.
CATEGORIES = ("info", "success", "warning", "error")

Category = Literal["info", "success", "warning", "error"]

#: Seconds a flashed message waits to be shown before the browser drops it.
MAX_AGE = 300

#: Browsers refuse cookies above ~4 KiB; the oldest messages are dropped to stay below.
MAX_COOKIE_BYTES = 3800

#: Longer messages are cut, so that a single message always fits in the cookie.
MAX_MESSAGE_CHARS = 500

_STATE_KEY = "pcm_flash_messages"


@dataclass(frozen=True)
class Flash:
    """One message. ``category`` is one of :data:`CATEGORIES`."""

    message: str
    category: str = "info"


class FlashMessages:
    """The messages waiting to be shown to the browser behind one request.

    Iterating takes the messages: they are shown once and the cookie is cleared (or
    rewritten with whatever is flashed after that) when the response goes out. Testing
    truth or length does not take them.
    """

    def __init__(self, incoming: list[Flash], had_cookie: bool) -> None:
        self._pending = list(incoming)
        self.had_cookie = had_cookie
        self.changed = False

    def add(self, item: Flash) -> None:
        self._pending.append(item)
        self.changed = True

    def pending(self) -> list[Flash]:
        """The messages not shown yet, without taking them."""
        return list(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def __iter__(self) -> Iterator[Flash]:
        taken, self._pending = self._pending, []
        if taken:
            self.changed = True
        return iter(taken)


def flash(target: Request | Response, message: str, category: Category | str = "info") -> None:
    """Queue ``message`` to be shown once, on the next page the browser renders.

    :param target: the current ``Request`` (the usual case: the middleware writes the
        cookie on whatever response the handler returns, and a page rendered for this same
        request shows the message at once), or a ``Response`` the handler is about to
        return, which then carries the cookie itself.
    :param message: plain text; it is escaped when shown, so HTML in it appears as text.
    :param category: ``"info"``, ``"success"``, ``"warning"`` or ``"error"``.
    :raises ValueError: for any other category.
    """
    if category not in CATEGORIES:
        raise ValueError(f"flash category {category!r} is not one of {', '.join(CATEGORIES)}")
    text = str(message)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    item = Flash(text, category)
    if isinstance(target, Request):
        flash_messages(target).add(item)
        return
    existing = _cookie_value(_set_cookie_headers(target.raw_headers))
    _set_flash_cookie(target.raw_headers, [*decode(existing), item])


def flash_messages(request: Request) -> FlashMessages:
    """The :class:`FlashMessages` of ``request``, read from its cookie on first use."""
    state = request.scope.setdefault("state", {})
    messages: FlashMessages | None = state.get(_STATE_KEY)
    if messages is None:
        raw = request.cookies.get(FLASH_COOKIE)
        messages = FlashMessages(decode(raw), had_cookie=raw is not None)
        state[_STATE_KEY] = messages
    return messages


def encode(messages: list[Flash]) -> str:
    """The cookie value for ``messages``, oldest dropped first if it would be too large."""
    messages = list(messages)
    while True:
        payload = json.dumps(
            [[item.category, item.message] for item in messages], ensure_ascii=False
        )
        value = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        if len(value) <= MAX_COOKIE_BYTES or len(messages) <= 1:
            return value
        messages = messages[1:]


def decode(value: str | None) -> list[Flash]:
    """The messages in a cookie value; anything unreadable counts as no messages."""
    if not value:
        return []
    try:
        payload = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return []
    if not isinstance(payload, list):
        return []
    messages = []
    for item in payload:
        if isinstance(item, list) and len(item) == 2:
            category, message = item
            if category in CATEGORIES and isinstance(message, str):
                messages.append(Flash(message, category))
    return messages


def _set_cookie_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    prefix = f"{FLASH_COOKIE}=".encode()
    return [
        (name, value)
        for name, value in headers
        if name.lower() == b"set-cookie" and value.startswith(prefix)
    ]


def _cookie_value(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The value the last of ``headers`` (Set-Cookie for the flash cookie) sets, if any."""
    if not headers:
        return None
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(headers[-1][1].decode("latin-1"))
    morsel = cookie.get(FLASH_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def _set_flash_cookie(headers: list[tuple[bytes, bytes]], messages: list[Flash]) -> None:
    """Replace the flash cookie that ``headers`` set with one for ``messages`` (or a
    deletion when there are none)."""
    for header in _set_cookie_headers(headers):
        headers.remove(header)
    carrier = Response()
    if messages:
        carrier.set_cookie(
            FLASH_COOKIE,
            encode(messages),
            max_age=MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
        )
    else:
        carrier.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax")
    headers.extend(_set_cookie_headers(carrier.raw_headers))


def write_flash_cookie(scope: Scope, message: Message) -> None:
    """Set (or clear) the flash cookie on ``message``, the ``http.response.start`` of the
    request ``scope``, when the request flashed or showed messages; what
    ``pcm_ops.middleware.CoreMiddleware`` does."""
    state = scope.get("state")
    if not state:
        return
    messages: FlashMessages | None = state.get(_STATE_KEY)
    if messages is not None and messages.changed:
        _write_cookie(message, messages)


def _write_cookie(message: Message, messages: FlashMessages) -> None:
    headers = MutableHeaders(scope=message)
    own = decode(_cookie_value(_set_cookie_headers(headers.raw)))
    remaining = messages.pending()
    if not remaining and not own and not messages.had_cookie:
        return
    _set_flash_cookie(headers.raw, remaining + own)
