"""Core's work on every HTTP request, in one ASGI layer.

:class:`CoreMiddleware`, the outermost middleware of an application built by
:func:`pcm_ops.app.create_app`, does in this order, from the outside in:

1. the request's log context: every record logged while it is served carries its
   ``request_id`` (:func:`pcm_ops.logs.request_id_of`, sent back as ``X-Request-ID``) and
   the ``plugin`` whose prefix its path is under;
2. metrics: the time to the response's first byte and the request count, by method, route
   template and status (:class:`pcm_ops.metrics.Metrics`);
3. security headers on every response (:mod:`pcm_ops.security.headers`);
4. a 422 answer for a NUL character in the path, the query or a JSON or form body
   (:mod:`pcm_ops.security.nul`);
5. the flash cookie for what the request flashed or showed (:mod:`pcm_ops.web.flash`).

It also answers the requests that never change, given as ``answers`` (the liveness probe
``/healthz`` when it is public), itself, before routing: a load balancer or Kubernetes
calls them many times a second, and routing, FastAPI's layers and the endpoint cost more
than the rest of the request. Those answers still get steps 1 to 3 and the access line.

They were five middlewares, each wrapping ``send`` in a closure of its own; one layer with
one ``send`` wrapper does the same work for a fraction of the cost per request (issue 15:
``/healthz`` throughput). Each step's logic lives in its own module, which also keeps a
middleware class of its own for applications that want only that step.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pcm_ops.logs import PrefixOwners, log_context, request_id_of
from pcm_ops.metrics import Metrics
from pcm_ops.security.headers import (
    SECURITY_HEADERS,
    SECURITY_HEADERS_HSTS,
    with_security_headers,
)
from pcm_ops.security.nul import call_refusing_nul
from pcm_ops.web.flash import write_flash_cookie

__all__ = ["CoreMiddleware"]


class CoreMiddleware:
    """Log context, metrics, security headers, NUL refusal and the flash cookie for each
    HTTP request (see the module's description); other scopes pass through untouched.

    :param metrics: the application's :class:`~pcm_ops.metrics.Metrics`.
    :param prefixes: ``{prefix: plugin id}`` for the plugins' API and page prefixes.
    :param hsts: send ``Strict-Transport-Security`` on HTTPS responses.
    :param answers: ``{path: (content type, body)}``: a ``GET`` of one of these paths
        without a query string is answered 200 with that body by this layer, and counted
        in the metrics under the path as its route template.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        prefixes: Mapping[str, str] | None = None,
        hsts: bool = False,
        answers: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> None:
        self.app = app
        self.answers = {
            path: (
                {"type": "http.response.body", "body": body},
                (
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", content_type.encode("latin-1")),
                ),
            )
            for path, (content_type, body) in (answers or {}).items()
        }
        self.metrics = metrics
        self.owners = PrefixOwners(prefixes)
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        request_id_header = (b"x-request-id", request_id.encode())
        https = self.hsts and scope.get("scheme") == "https"
        security_headers = SECURITY_HEADERS_HSTS if https else SECURITY_HEADERS
        metrics = self.metrics
        started = time.perf_counter()
        status = 500
        route: str | None = None
        answer = self.answers.get(scope["path"]) if self.answers else None
        if answer is not None and (scope["method"] != "GET" or scope.get("query_string")):
            answer = None
        if answer is not None:
            route = scope["path"]

        async def send_response(message: Message) -> None:
            nonlocal status, route
            if message["type"] == "http.response.start":
                write_flash_cookie(scope, message)
                headers = with_security_headers(message.get("headers", ()), security_headers)
                status = message["status"]
                route = metrics.response_started(scope, started, route)
                headers.append(request_id_header)
                message["headers"] = headers
            await send(message)

        with log_context(request_id=request_id, plugin=self.owners.of(scope["path"])):
            try:
                if answer is None:
                    await call_refusing_nul(self.app, scope, receive, send_response)
                else:
                    body, headers = answer
                    # send_response puts a new header list in the start message; the
                    # body message is copied so that no server can change the shared one.
                    await send_response(
                        {"type": "http.response.start", "status": 200, "headers": headers}
                    )
                    await send_response(dict(body))
            finally:
                metrics.request_done(scope, route, status)
