"""The WSGI layer in front of moto's server application.

For every request it

1. answers the control API under ``/pcm-moto/`` itself (JSON; see :func:`control`);
2. waits the injected latency for the request's service and operation;
3. authenticates the request as AWS does, unless it is the test harness's own (it names
   its account with moto's ``x-moto-account-id`` header): an access key no account has is
   refused (``InvalidClientTokenId``), a wrong secret too (``SignatureDoesNotMatch``), and
   assumed-role credentials after they expire (``ExpiredToken``), each in the error format
   of the service's protocol. moto itself accepts anything.
4. counts it, and hands it to moto, unless an injected fault
   (:meth:`~pcm_aws_common.testing.controls.ServerControls.inject`) answers instead: an
   error, throttling, a read timeout or a reset connection, before moto sees the request or
   after moto processed it (the answer is lost, the call happened).

The signature check reuses moto's own (``moto.iam.access_control.IAMRequest``), the one
moto runs when its IAM authorization is switched on; PCM-Ops' server authenticates without
authorizing, so tests need no IAM policies.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from pcm_aws_common.testing.controls import CONTROLS, Fault

CONTROL_PREFIX = "/pcm-moto/"
#: moto's header for naming the account of a request; the test harness's requests carry it.
HARNESS_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"

_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class RequestInfo:
    """What the layer needs to know about a signed AWS request."""

    access_key_id: str
    region: str
    service: str
    operation: str
    #: ``json`` (X-Amz-Target), ``ec2``, or ``query`` (form-encoded Action).
    protocol: str


def describe(environ: dict[str, Any], body: bytes) -> RequestInfo | None:
    """The request's key, region, service and operation; ``None`` when it is not signed
    with SigV4 (moto's own API, presigned URLs, anonymous requests)."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return None
    service = match.group("service")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return RequestInfo(
            match.group("key"), match.group("region"), service, target.rpartition(".")[2], "json"
        )
    fields = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        fields.update(parse_qs(body.decode("utf-8", "replace")))
    operation = (fields.get("Action") or [""])[0]
    protocol = "ec2" if service == "ec2" else ("query" if operation else "rest")
    return RequestInfo(
        match.group("key"), match.group("region"), service, operation or "-", protocol
    )


# -- authentication --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Refusal:
    status: int
    code: str
    message: str


_UNKNOWN_KEY = "The security token included in the request is invalid."
_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
_EXPIRED = "The security token included in the request is expired"


def _refusal(problem: str, protocol: str) -> _Refusal:
    if protocol == "ec2":
        if problem == "expired":
            return _Refusal(400, "RequestExpired", "Request has expired.")
        return _Refusal(
            401, "AuthFailure", "AWS was not able to validate the provided access credentials"
        )
    if protocol == "json":
        return {
            "unknown-key": _Refusal(400, "UnrecognizedClientException", _UNKNOWN_KEY),
            "signature": _Refusal(400, "InvalidSignatureException", _BAD_SIGNATURE),
            "expired": _Refusal(400, "ExpiredTokenException", _EXPIRED),
        }[problem]
    return {
        "unknown-key": _Refusal(403, "InvalidClientTokenId", _UNKNOWN_KEY),
        "signature": _Refusal(403, "SignatureDoesNotMatch", _BAD_SIGNATURE),
        "expired": _Refusal(403, "ExpiredToken", _EXPIRED),
    }[problem]


def authenticate(environ: dict[str, Any], body: bytes, info: RequestInfo) -> str | None:
    """``None`` when AWS would accept the request's credentials; else ``unknown-key``,
    ``signature`` or ``expired``."""
    from moto.core.exceptions import (
        AuthFailureError,
        InvalidClientTokenIdError,
        SignatureDoesNotMatchError,
    )
    from moto.iam.access_control import IAMRequest
    from moto.iam.models import get_account_id_from
    from werkzeug.datastructures import EnvironHeaders

    account_id = get_account_id_from(info.access_key_id)
    headers = dict(EnvironHeaders(environ).items())
    path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    try:
        request = IAMRequest(
            account_id=account_id,
            method=environ["REQUEST_METHOD"],
            path=path,
            data={},
            body=body,
            headers=headers,
            action=info.operation,
        )
        request.check_signature()
    except InvalidClientTokenIdError:
        return "unknown-key"
    except SignatureDoesNotMatchError:
        return "signature"
    except AuthFailureError:  # EC2's one error for both
        return "unknown-key"
    if _expired(account_id, info):
        return "expired"
    return None


def _expired(account_id: str, info: RequestInfo) -> bool:
    from moto.core.utils import utcnow
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    backend = sts_backends[account_id][get_partition(info.region)]
    role = backend.get_assumed_role_from_access_key(info.access_key_id)
    return role is not None and role.expiration <= utcnow()


def _error_body(refusal: _Refusal, protocol: str) -> tuple[bytes, str]:
    request_id = str(uuid.uuid4())
    if protocol == "json":
        return (
            json.dumps({"__type": refusal.code, "message": refusal.message}).encode(),
            "application/x-amz-json-1.1",
        )
    if protocol == "ec2":
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
            f"<Code>{refusal.code}</Code><Message>{refusal.message}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return xml.encode(), "text/xml"
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{refusal.code}</Code>"
        f"<Message>{refusal.message}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )
    return xml.encode(), "text/xml"


# -- the layer -------------------------------------------------------------------------------


class PcmMotoMiddleware:
    """Wraps moto's WSGI application (``DomainDispatcherApplication``)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return control(environ, start_response)
        body = _buffer_body(environ)
        info = describe(environ, body)
        if info is None:
            return self.app(environ, start_response)
        delay = CONTROLS.latency_for(info.service, info.operation)
        if delay:
            time.sleep(delay)
        if CONTROLS.authenticate and HARNESS_HEADER not in environ and info.protocol != "rest":
            problem = authenticate(environ, body, info)
            if problem is not None:
                refusal = _refusal(problem, info.protocol)
                payload, content_type = _error_body(refusal, info.protocol)
                start_response(
                    f"{refusal.status} Refused",
                    [
                        ("Content-Type", content_type),
                        ("Content-Length", str(len(payload))),
                        ("x-amzn-ErrorType", refusal.code),
                    ],
                )
                return [payload]
        CONTROLS.count(info.service, info.operation)
        fault = CONTROLS.fault_for(info.service, info.operation)
        if fault is None:
            return self.app(environ, start_response)
        return _inject(fault, self.app, environ, start_response, info.protocol)


# -- faults ----------------------------------------------------------------------------------


def _inject(
    fault: Fault,
    app: Callable[..., Iterable[bytes]],
    environ: dict[str, Any],
    start_response: StartResponse,
    protocol: str,
) -> Iterable[bytes]:
    if fault.after:
        # moto processes the request; its answer is what gets lost.
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
            captured[:] = [status, headers]
            return lambda data: None

        answer = b"".join(app(environ, capture))
        if fault.kind == "timeout":
            time.sleep(fault.seconds)
            start_response(captured[0], captured[1])
            return [answer]
    elif fault.kind == "timeout":
        time.sleep(fault.seconds)  # the client has given up; the request is dropped
        _reset(environ)
    if fault.kind == "reset":
        _reset(environ)
    refusal = (
        _Refusal(400, "ThrottlingException", "Rate exceeded")
        if fault.kind == "throttle"
        else _Refusal(500, "InternalServerError", "An internal error occurred (injected).")
    )
    payload, content_type = _error_body(refusal, protocol)
    reason = "Bad Request" if refusal.status == 400 else "Internal Server Error"
    start_response(
        f"{refusal.status} {reason}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(payload))),
            ("x-amzn-ErrorType", refusal.code),
        ],
    )
    return [payload]


def _reset(environ: dict[str, Any]) -> None:
    """Drop the request's connection without an answer, and end the request."""
    import contextlib
    import socket

    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):  # the client went away already
            connection.shutdown(socket.SHUT_RDWR)
    # werkzeug takes a ConnectionError as a dropped connection: it writes nothing more
    # and logs nothing.
    raise ConnectionResetError("connection reset by the fault injection")


def _buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back, so moto reads it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


# -- the control API -------------------------------------------------------------------------


def control(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """JSON endpoints for tests and benchmarks that drive a server from another process.

    ====== ====================================== ==============================================
    POST   /pcm-moto/latency                      ``{"seconds", "service"?, "operation"?}``
    POST   /pcm-moto/authentication               ``{"enabled": bool}``
    POST   /pcm-moto/sts/assume-role-seconds      ``{"seconds": int | null}``
    GET    /pcm-moto/requests                     request counts by ``service.Operation``
    POST   /pcm-moto/reset                        controls back to defaults (not moto's data)
    POST   /pcm-moto/faults                       ``{"service", "operation", "kind", "after"?,
                                                  "times"?, "rate"?, "seed"?, "seconds"?}``
    DELETE /pcm-moto/faults                       remove every fault
    GET    /pcm-moto/faults                       the requests faults struck, in order
    POST   /pcm-moto/ssm/default-outcome          ``{"status", "output", "error", "exit_code",
                                                  "instance_id"?, "after"?}``
    POST   /pcm-moto/ssm/outcome-rule             ``{"rule": "tags" | null, ...}``: the
                                                  fields of ``TagOutcomes`` (seed, ...)
    POST   /pcm-moto/ssm/invocation               ``{"command_id", "instance_id", "status"?,
                                                  "output"?, "error"?, "exit_code"?}``
    GET    /pcm-moto/ssm/commands                 every command sent
    GET    /pcm-moto/ssm/commands/<command id>    its invocations, with whole outputs
    POST   /pcm-moto/ssm/instances/<instance id>  ``{"managed"?: bool, "ping_status"?: str}``
    ====== ====================================== ==============================================
    """
    from pcm_aws_common.testing.ssm import SsmControl

    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "")[len(CONTROL_PREFIX) :].strip("/")
    try:
        data = json.loads(_buffer_body(environ) or b"{}")
        ssm = SsmControl()
        result: Any = {"ok": True}
        if (method, path) == ("POST", "latency"):
            CONTROLS.set_latency(
                float(data.get("seconds", 0)),
                service=data.get("service"),
                operation=data.get("operation"),
            )
        elif (method, path) == ("POST", "authentication"):
            CONTROLS.authenticate = bool(data["enabled"])
        elif (method, path) == ("POST", "sts/assume-role-seconds"):
            seconds = data.get("seconds")
            CONTROLS.assume_role_seconds = None if seconds is None else int(seconds)
        elif (method, path) == ("GET", "requests"):
            result = CONTROLS.request_counts()
        elif (method, path) == ("POST", "faults"):
            CONTROLS.inject(
                str(data.pop("service")),
                str(data.pop("operation")),
                str(data.pop("kind")),
                **data,
            )
        elif (method, path) == ("DELETE", "faults"):
            CONTROLS.clear_faults()
        elif (method, path) == ("GET", "faults"):
            result = [vars(fault) for fault in CONTROLS.injected()]
        elif (method, path) == ("POST", "reset"):
            CONTROLS.reset()
            ssm.reset()
        elif (method, path) == ("POST", "ssm/default-outcome"):
            instance_id = data.pop("instance_id", None)
            after = float(data.pop("after", 0))
            ssm.set_default_outcome(instance_id=instance_id, after=after, **data)
        elif (method, path) == ("POST", "ssm/outcome-rule"):
            ssm.set_outcome_rule(_outcome_rule(data))
        elif (method, path) == ("POST", "ssm/invocation"):
            result = ssm.set_invocation(data.pop("command_id"), data.pop("instance_id"), **data)
        elif (method, path) == ("GET", "ssm/commands"):
            result = ssm.commands()
        elif method == "GET" and path.startswith("ssm/commands/"):
            result = ssm.invocations(path.rpartition("/")[2])
        elif method == "POST" and path.startswith("ssm/instances/"):
            instance_id = path.rpartition("/")[2]
            if "managed" in data:
                ssm.set_managed(instance_id, bool(data["managed"]))
            if "ping_status" in data:
                ssm.set_ping_status(instance_id, str(data["ping_status"]))
        else:
            return _json(start_response, 404, {"error": f"no control endpoint {method} /{path}"})
    except (KeyError, TypeError, ValueError) as exc:
        return _json(start_response, 400, {"error": f"{type(exc).__name__}: {exc}"})
    return _json(start_response, 200, result)


def _outcome_rule(data: dict[str, Any]) -> Any:
    """The rule a control request names: ``tags`` (TagOutcomes with the other fields)."""
    from pcm_aws_common.testing.outcomes import TagOutcomes

    kind = data.pop("rule", None)
    if kind is None:
        return None
    if kind != "tags":
        raise ValueError(f"unknown outcome rule {kind!r}; known: 'tags', or null for none")
    for name in ("progress_seconds", "slow_seconds"):
        if name in data:
            data[name] = tuple(data[name])
    return TagOutcomes(**data)


def _json(start_response: StartResponse, status: int, value: Any) -> list[bytes]:
    payload = json.dumps(value, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]
