"""Security headers on every response (a pure ASGI middleware, so streams are untouched)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: No inline scripts and no eval anywhere: the UI loads scripts from /static only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HSTS = "max-age=31536000; includeSubDomains"

#: The headers every response gets, unless it sets them itself.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)

#: The same, with ``Strict-Transport-Security``: for HTTPS requests when HSTS is on.
SECURITY_HEADERS_HSTS = (*SECURITY_HEADERS, (b"strict-transport-security", HSTS.encode()))

_NAMES = frozenset(name for name, _ in SECURITY_HEADERS_HSTS)


def with_security_headers(
    headers: Iterable[tuple[bytes, bytes]], wanted: Sequence[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """A new list: ``headers`` followed by those of ``wanted`` (:data:`SECURITY_HEADERS`
    or :data:`SECURITY_HEADERS_HSTS`) that ``headers`` does not set (any case)."""
    result = list(headers)
    present = {name.lower() for name, _ in result}
    if present.isdisjoint(_NAMES):
        result += wanted
    else:
        result += [(name, value) for name, value in wanted if name not in present]
    return result
