"""Refuse NUL characters in requests before they reach a route.

PostgreSQL cannot store NUL in text columns, so a NUL in a JSON string, a query parameter
or a path would otherwise surface as a database error (a 500) deep inside some plugin. No
field of PCM-Ops accepts one; answering 422 at the door keeps every route safe.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_JSON_NUL = b"\\u0000"


def _problem(location: str) -> bytes:
    return json.dumps(
        {
            "detail": [
                {
                    "loc": [location],
                    "msg": "NUL characters (\\u0000) are not allowed",
                    "type": "value_error",
                }
            ]
        }
    ).encode()


async def call_refusing_nul(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Call ``app`` for the HTTP request ``scope``, or answer 422 when its path, query or
    (JSON or form) body holds a NUL character. ``pcm_ops.middleware.CoreMiddleware``
    calls it for every HTTP request of an application built by ``create_app``."""
    path: str = scope["path"]
    if "\x00" in path or b"%00" in scope.get("query_string", b""):
        await _refuse(send, "path" if "\x00" in path else "query")
        return
    content_type = b""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value  # the last one, as a dict of the headers would hold
    if b"json" not in content_type and b"form" not in content_type:
        await app(scope, receive, send)
        return
    # Read the (size-limited by the server) body once, check it, then replay it.
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            await app(scope, _replay([message], receive), send)
            return
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    if _JSON_NUL in body or b"%00" in body or b"\x00" in body:
        await _refuse(send, "body")
        return
    await app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _replay(messages: list[Message], original: Receive) -> Receive:
    """Give the already-read messages first, then whatever the client sends next
    (a disconnect, which streaming responses wait for)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await original()

    return receive


async def _refuse(send: Send, location: str) -> None:
    body = _problem(location)
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
