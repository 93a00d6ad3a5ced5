"""An asynchronous client for ServiceNow's REST Table API, one per connection.

It gets right what the Table API needs and what ServiceNow's own libraries leave to their
callers:

- **paging** follows ``Link: <…>;rel="next"`` (on this client's own instance only) or the
  offset against ``X-Total-Count``, and never stops on a short page: ServiceNow applies
  ``sysparm_limit`` before ACLs, so a page can come back short mid-way. Once the total is
  known, pages can be read side by side (``concurrency``);
- **429** waits for ``Retry-After`` when it is no longer than
  :attr:`ConnectionSettings.max_retry_after_seconds` and the call's waiting stays within
  :attr:`ConnectionSettings.retry_budget_seconds`; otherwise :class:`ServiceNowUnavailable`;
- **5xx and network errors** are retried with exponential backoff for reads (GET) only. A
  PATCH that may have reached ServiceNow is never sent again (a work note would be written
  twice) and fails with ``outcome_unknown``; one that provably never left (connection
  refused) or was refused unprocessed (429) is sent again;
- **authentication**: basic, OAuth 2.0 client credentials or password grant (the token is
  cached until shortly before it expires, and a 401 makes the client authenticate once more
  and retry once), or an API key (``x-sn-apikey``); TLS with an extra CA bundle and a client
  certificate per connection;
- a per-connection **rate limit**: at most ``rate_limit_per_second`` requests start in any
  window of one second;
- **errors** name the connection and the call and say what ServiceNow said, and never contain
  a secret; nothing here logs a header or a secret.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import logging
import math
import os
import re
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from pcm_ops import metrics
from pcm_servicenow_cmdb.query import Query

logger = logging.getLogger(__name__)

#: Every request to ServiceNow's Table API from this process, by connection, method, table
#: and outcome (``ok``, ``rate_limited`` for a 429, ``error`` for any other failure).
SERVICENOW_REQUESTS = metrics.counter(
    "pcm_servicenow_requests_total",
    "ServiceNow Table API requests by connection, method, table and outcome "
    "(ok, rate_limited, error)",
    ["connection", "method", "table", "outcome"],
)

#: The authentication kinds a connection can use.
AUTH_KINDS = ("basic", "oauth_client_credentials", "oauth_password", "api_key")

#: The header that carries an API key (ServiceNow's API Key authentication profile).
API_KEY_HEADER = "x-sn-apikey"

#: The OAuth 2.0 token endpoint of an instance.
TOKEN_PATH = "/oauth_token.do"  # noqa: S105 (a path, not a secret)

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
_TAG = re.compile(r"<[^>]*>")
_LINK_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)

#: First backoff after a 5xx or network error; doubled for each further attempt.
BACKOFF_SECONDS = 0.5
#: The most 429 answers one call takes before it gives up (even with ``Retry-After: 0``).
MAX_RATE_LIMITED = 20
#: How long before its ``expires_in`` an OAuth token is renewed (at most this share of it).
TOKEN_RENEWAL_MARGIN_SECONDS = 60.0
TOKEN_RENEWAL_MARGIN_SHARE = 0.1

Sleep = Callable[[float], Awaitable[Any]]


def _clock() -> float:
    """The clock of token lifetimes and the rate limit (tests move it)."""
    return time.monotonic()


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach one ServiceNow instance. Secrets stay out of ``repr``."""

    name: str
    base_url: str
    auth_kind: str
    #: ``basic`` and ``oauth_password``.
    username: str = ""
    password: str = field(default="", repr=False)
    #: ``oauth_client_credentials`` and ``oauth_password``.
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    #: ``api_key``: sent in the ``x-sn-apikey`` header.
    api_key: str = field(default="", repr=False)
    #: PEM text of CAs to trust besides the system's.
    ca_bundle: str | None = field(default=None, repr=False)
    #: PEM texts of a client certificate and its key, for mutual TLS.
    client_cert: str | None = field(default=None, repr=False)
    client_key: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0
    #: This connection's own cap on requests started per second (``None``: none).
    rate_limit_per_second: float | None = None
    #: The longest ``Retry-After`` of a 429 that is waited for; a longer one ends the call.
    max_retry_after_seconds: float = 30.0
    #: The total time one call may spend waiting before retries.
    retry_budget_seconds: float = 60.0
    #: Retries of a read after a 5xx or a network error.
    retries: int = 3

    def __post_init__(self) -> None:
        if self.auth_kind not in AUTH_KINDS:
            raise ValueError(
                f"connection {self.name!r}: unknown auth_kind {self.auth_kind!r}; "
                f"use one of {', '.join(AUTH_KINDS)}"
            )
        scheme = urlsplit(self.base_url).scheme
        if scheme not in ("http", "https") or not urlsplit(self.base_url).netloc:
            raise ValueError(
                f"connection {self.name!r}: base_url must be an http(s) URL such as "
                f"https://example.service-now.com, not {self.base_url!r}"
            )
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError(
                f"connection {self.name!r}: a client certificate needs both client_cert "
                f"and client_key"
            )
        if self.rate_limit_per_second is not None and self.rate_limit_per_second <= 0:
            raise ValueError(f"connection {self.name!r}: rate_limit_per_second must be above 0")
        if self.retries < 0:
            raise ValueError(f"connection {self.name!r}: retries must not be negative")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values of this connection (to keep them out of error texts)."""
        values = (self.password, self.client_secret, self.api_key, self.client_key or "")
        return tuple(value for value in values if value)


class InvalidTLSMaterial(ValueError):
    """A connection's CA bundle, client certificate or key cannot be loaded; ``field`` names
    which (``ca_bundle`` or ``client_cert``). The text never holds the key."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ServiceNowError(Exception):
    """A call to ServiceNow failed. The message names the connection and the call (such as
    ``GET change_request``) and says what ServiceNow answered.

    ``outcome_unknown`` is true when a call that changes data (PATCH) failed after it may have
    reached ServiceNow (a 5xx, a timeout, a dropped connection): it may or may not have been
    applied, and was not sent again. Look before sending it again (for a work note: read the
    journal).
    """

    #: What the operator can do about it; subclasses say more.
    hint = ""

    def __init__(
        self,
        connection: str,
        call: str,
        status: int | None,
        detail: str,
        *,
        outcome_unknown: bool = False,
    ) -> None:
        self.connection = connection
        self.call = call
        self.status = status
        self.detail = detail
        self.outcome_unknown = outcome_unknown
        answer = f"HTTP {status}" if status is not None else "no answer"
        message = f"ServiceNow connection {connection!r}: {call} failed ({answer}): {detail}"
        if outcome_unknown:
            message = f"{message}. It may or may not have been applied, and was not sent again"
        if self.hint:
            message = f"{message}. {self.hint}"
        super().__init__(message)


class ServiceNowUnavailable(ServiceNowError):
    """ServiceNow could not be reached, kept failing (5xx) or asked to wait too long (429)."""

    hint = "ServiceNow is unreachable or busy; try again later"


class ServiceNowAuthError(ServiceNowError):
    """ServiceNow refused the connection's credentials (401)."""

    hint = "Check the connection's credentials (and that the user is active)"


class ServiceNowForbidden(ServiceNowError):
    """The integration user lacks the role or ACL for the call (403)."""

    hint = "The integration user lacks a role or an ACL for this; see its roles in ServiceNow"


class ServiceNowNotFound(ServiceNowError):
    """The record or table does not exist, or an ACL hides it from the user (404)."""

    hint = "The record does not exist, or an ACL hides it from the integration user"


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _said(response: httpx.Response) -> str:
    """What ServiceNow said in an error answer: ``{"error": {"message", "detail"}}`` for the
    Table API, ``{"error", "error_description"}`` for OAuth, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(_TAG.sub(" ", response.text).split())[:200]
        return text or response.reason_phrase or "no details"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            parts = [str(error.get(key)) for key in ("message", "detail") if error.get(key)]
            if parts:
                return ": ".join(parts)
        if "error_description" in body or isinstance(error, str):
            parts = [str(body.get(key)) for key in ("error", "error_description") if body.get(key)]
            return ": ".join(parts)
    return " ".join(str(body).split())[:200]


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class RateLimiter:
    """At most ``per_second`` starts in any window of one second (for rates below one, one
    start per ``1 / per_second`` seconds). A start reserves its slot before waiting, so
    concurrent callers queue in order."""

    def __init__(self, per_second: float, sleep: Sleep) -> None:
        self.burst = max(1, math.floor(per_second))
        self.window = self.burst / per_second
        self._starts: collections.deque[float] = collections.deque(maxlen=self.burst)
        self._sleep = sleep

    async def acquire(self) -> None:
        now = _clock()
        slot = now
        if len(self._starts) == self.burst:
            slot = max(now, self._starts[0] + self.window)
        self._starts.append(slot)
        if slot > now:
            await self._sleep(slot - now)


@dataclass
class _Token:
    value: str
    renew_at: float


class _Call:
    """The waiting one call has done, against its budget."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.waited = 0.0
        self.rate_limited = 0


class ServiceNowClient:
    """A pooled HTTP client for one ServiceNow connection; use ``async with`` or call
    :meth:`aclose`.

    :param transport: an httpx transport to use instead of the network (tests).
    :param sleep: what waits before retries and for the rate limit (tests pass their own).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        #: HTTP requests made, token requests included.
        self.request_count = 0
        self._sleep = sleep
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._limiter = (
            RateLimiter(settings.rate_limit_per_second, sleep)
            if settings.rate_limit_per_second
            else None
        )
        headers = {"Accept": "application/json", "User-Agent": "pcm-servicenow-cmdb"}
        if settings.auth_kind == "api_key":
            headers[API_KEY_HEADER] = settings.api_key
        auth = (
            httpx.BasicAuth(settings.username, settings.password)
            if settings.auth_kind == "basic"
            else None
        )
        self._http = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(settings.timeout_seconds),
            verify=self._tls_context() if transport is None and _custom_tls(settings) else True,
            transport=transport,
            follow_redirects=False,
        )

    # -- life cycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> ServiceNowClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def _tls_context(self) -> ssl.SSLContext:
        context = httpx.create_ssl_context()  # what httpx trusts by default, plus ours
        settings = self.settings
        if settings.ca_bundle:
            try:
                context.load_verify_locations(cadata=settings.ca_bundle)
            except (ssl.SSLError, ValueError) as error:
                raise InvalidTLSMaterial(
                    f"connection {settings.name!r}: the CA bundle is not valid PEM ({error})",
                    "ca_bundle",
                ) from None
        if settings.client_cert and settings.client_key:
            # ssl reads a certificate and key only from files: write them to a private
            # directory and delete them as soon as they are loaded.
            with tempfile.TemporaryDirectory(prefix="pcm-sn-") as directory:
                cert_path = os.path.join(directory, "client.pem")
                key_path = os.path.join(directory, "client.key")
                for path, text in (
                    (cert_path, settings.client_cert),
                    (key_path, settings.client_key),
                ):
                    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(descriptor, "w") as file:
                        file.write(text)
                try:
                    # A key that needs a password is refused (never OpenSSL's prompt).
                    context.load_cert_chain(cert_path, key_path, password=_no_key_password)
                except ssl.SSLError as error:
                    raise InvalidTLSMaterial(
                        f"connection {settings.name!r}: the client certificate or key is not "
                        f"valid PEM, or they do not belong together ({error.reason})",
                        "client_cert",
                    ) from None
        return context

    # -- the Table API -------------------------------------------------------------------------

    async def records(
        self,
        table: str,
        *,
        query: Query | str = "",
        fields: Sequence[str] = (),
        display_value: str = "false",
        page_size: int = 100,
        limit: int | None = None,
        exclude_reference_link: bool = True,
        concurrency: int = 1,
    ) -> list[dict[str, Any]]:
        """The records of ``table`` that match ``query``, every page of them (at most
        ``limit``), in ServiceNow's order.

        With ``concurrency`` above 1, once the first page has told ``X-Total-Count``, up to
        that many of the following pages are read at the same time.
        """
        _check_table(table)
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1 (or None: every record)")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        size = min(page_size, limit) if limit is not None else page_size
        params: dict[str, str] = {
            "sysparm_display_value": _display_value(display_value),
            "sysparm_exclude_reference_link": "true" if exclude_reference_link else "false",
            "sysparm_limit": str(size),
        }
        if str(query):
            params["sysparm_query"] = str(query)
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        call = f"GET {table}"
        budget = _Call(self.settings.retry_budget_seconds)
        gate = asyncio.Semaphore(concurrency)

        async def page_at(offset: int) -> tuple[list[dict[str, Any]], httpx.Response]:
            async with gate:
                response = await self._send(
                    "GET",
                    f"/api/now/table/{table}",
                    call,
                    params={**params, "sysparm_offset": str(offset)},
                    budget=budget,
                )
            page: list[dict[str, Any]] = _result(response, call, self.settings.name, list)
            return page, response

        results: list[dict[str, Any]] = []
        offset = 0
        while True:
            page, response = await page_at(offset)
            results.extend(page)
            if limit is not None and len(results) >= limit:
                return results[:limit]
            next_offset = _next_offset(response, offset, size)
            if next_offset is None or next_offset <= offset:
                return results
            total = _total_count(response)
            if concurrency > 1 and total is not None and next_offset < total:
                # The offsets up to the total are known: read them side by side (as many as
                # the limit would need if no page came short), then go on one by one.
                offsets = list(range(next_offset, total, size))
                if limit is not None:
                    offsets = offsets[: -(-(limit - len(results)) // size)]
                pages = await asyncio.gather(*(page_at(at) for at in offsets))
                for page, _ in pages:
                    results.extend(page)
                if limit is not None and len(results) >= limit:
                    return results[:limit]
                offset, response = offsets[-1], pages[-1][1]
                next_offset = _next_offset(response, offset, size)
                if next_offset is None or next_offset <= offset:
                    return results
            offset = next_offset

    async def record(
        self,
        table: str,
        sys_id: str,
        *,
        fields: Sequence[str] = (),
        display_value: str = "false",
    ) -> dict[str, Any]:
        """One record of ``table``; :class:`ServiceNowNotFound` when it is missing or hidden."""
        _check_table(table)
        _check_sys_id(sys_id)
        params = {
            "sysparm_display_value": _display_value(display_value),
            "sysparm_exclude_reference_link": "true",
        }
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        call = f"GET {table}/{sys_id}"
        response = await self._send("GET", f"/api/now/table/{table}/{sys_id}", call, params=params)
        result: dict[str, Any] = _result(response, call, self.settings.name, dict)
        return result

    async def patch(self, table: str, sys_id: str, values: dict[str, str]) -> dict[str, Any]:
        """Update fields of one record (a journal field such as ``work_notes`` gets an entry
        appended). Not retried once it may have reached ServiceNow."""
        _check_table(table)
        _check_sys_id(sys_id)
        call = f"PATCH {table}/{sys_id}"
        response = await self._send(
            "PATCH",
            f"/api/now/table/{table}/{sys_id}",
            call,
            params={"sysparm_exclude_reference_link": "true"},
            json=values,
        )
        result: dict[str, Any] = _result(response, call, self.settings.name, dict)
        return result

    async def check(self) -> str:
        """Make a cheap authenticated read and say what it proved."""
        await self._send(
            "GET",
            "/api/now/table/change_request",
            "GET change_request",
            params={"sysparm_limit": "1", "sysparm_fields": "sys_id"},
        )
        settings = self.settings
        if settings.auth_kind in ("basic", "oauth_password"):
            who = f"authenticated as {settings.username}"
        elif settings.auth_kind == "oauth_client_credentials":
            who = f"authenticated with OAuth client {settings.client_id}"
        else:
            who = "authenticated with an API key"
        return f"{who}; change_request is readable"

    # -- sending -------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        call: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        budget: _Call | None = None,
    ) -> httpx.Response:
        """Send one request, with authentication, the rate limit and the retries it allows;
        ``budget`` is shared by the requests of one call (the pages of :meth:`records`)."""
        settings = self.settings
        budget = budget or _Call(settings.retry_budget_seconds)
        idempotent = method == "GET"
        failures = 0
        reauthenticated = False
        while True:
            headers = await self._auth_headers(call, budget)
            try:
                response = await self._request(
                    method, path, params=params, json=json, headers=headers
                )
            except httpx.TransportError as error:
                never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                if (idempotent or never_sent) and failures < settings.retries:
                    await self._back_off(call, failures, budget, reason, None)
                    failures += 1
                    continue
                raise self._error(
                    ServiceNowUnavailable, call, None, reason, unknown=not never_sent
                ) from None
            status = response.status_code
            if status < 400:
                return response
            if status == 401 and headers and not reauthenticated:
                # An OAuth token can be revoked or expire early: authenticate once more
                # (unless a concurrent call has already replaced the token this one used).
                if self._token is not None and headers == self._bearer(self._token):
                    self._token = None
                reauthenticated = True
                continue
            if status == 429:
                await self._wait_retry_after(call, response, budget)
                continue
            if status >= 500 and idempotent and failures < settings.retries:
                await self._back_off(call, failures, budget, _said(response), status)
                failures += 1
                continue
            raise self._error(
                _error_class(status),
                call,
                status,
                _said(response),
                unknown=status >= 500 and not idempotent,
            )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None,
        json: Any,
        headers: dict[str, str],
    ) -> httpx.Response:
        if self._limiter is not None:
            await self._limiter.acquire()
        self.request_count += 1
        started = time.monotonic()
        outcome = "error"
        try:
            response = await self._http.request(
                method, path, params=params, json=json, headers=headers
            )
            status = response.status_code
            outcome = "ok" if status < 400 else "rate_limited" if status == 429 else "error"
        finally:
            # The table, never the record's sys_id: labels stay few.
            table = path.removeprefix("/api/now/table/").split("/")[0] or "(none)"
            SERVICENOW_REQUESTS.labels(self.settings.name, method, table, outcome).inc()
        logger.debug(
            "ServiceNow %s: %s %s -> %s in %.0f ms",
            self.settings.name,
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    async def _back_off(
        self, call: str, failures: int, budget: _Call, reason: str, status: int | None
    ) -> None:
        delay = BACKOFF_SECONDS * 2**failures
        if budget.waited + delay > budget.budget:
            raise self._error(
                ServiceNowUnavailable,
                call,
                status,
                f"{reason}; retrying would exceed the {budget.budget:g} s retry budget",
            )
        logger.info(
            "ServiceNow %s: %s failed (%s); retrying in %.1f s",
            self.settings.name,
            call,
            reason,
            delay,
        )
        budget.waited += delay
        await self._sleep(delay)

    async def _wait_retry_after(self, call: str, response: httpx.Response, budget: _Call) -> None:
        settings = self.settings
        asked = _retry_after_seconds(response)
        wait = asked if asked is not None else BACKOFF_SECONDS
        said = _said(response)
        if wait > settings.max_retry_after_seconds:
            raise self._error(
                ServiceNowUnavailable,
                call,
                429,
                f"{said}; ServiceNow asked to wait {wait:g} s, longer than the "
                f"{settings.max_retry_after_seconds:g} s this connection waits",
            )
        budget.rate_limited += 1
        if budget.waited + wait > budget.budget or budget.rate_limited > MAX_RATE_LIMITED:
            raise self._error(
                ServiceNowUnavailable,
                call,
                429,
                f"{said}; still rate limited after {budget.rate_limited} answers and "
                f"{budget.waited:g} s of waiting (retry budget {budget.budget:g} s)",
            )
        logger.info("ServiceNow %s: %s rate limited; waiting %.1f s", settings.name, call, wait)
        budget.waited += wait
        await self._sleep(wait)

    def _error(
        self,
        kind: type[ServiceNowError],
        call: str,
        status: int | None,
        detail: str,
        *,
        unknown: bool = False,
    ) -> ServiceNowError:
        return kind(
            self.settings.name,
            call,
            status,
            _scrub(detail, self._secrets()),
            outcome_unknown=unknown,
        )

    def _secrets(self) -> tuple[str, ...]:
        token = (self._token.value,) if self._token is not None else ()
        return (*self.settings.secrets, *token)

    # -- authentication ------------------------------------------------------------------------

    async def _auth_headers(self, call: str, budget: _Call) -> dict[str, str]:
        """The ``Authorization`` header of an OAuth connection (``{}`` for the others, whose
        credentials the pooled client sends)."""
        if not self.settings.auth_kind.startswith("oauth_"):
            return {}
        return self._bearer(await self._access_token(call, budget))

    @staticmethod
    def _bearer(token: _Token) -> dict[str, str]:
        return {"Authorization": f"Bearer {token.value}"}

    async def _access_token(self, call: str, budget: _Call) -> _Token:
        async with self._token_lock:
            token = self._token
            if token is None or _clock() >= token.renew_at:
                token = self._token = await self._fetch_token(call, budget)
            return token

    async def _fetch_token(self, call: str, budget: _Call) -> _Token:
        settings = self.settings
        form = {
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        }
        if settings.auth_kind == "oauth_password":
            form |= {
                "grant_type": "password",
                "username": settings.username,
                "password": settings.password,
            }
        else:
            form["grant_type"] = "client_credentials"
        token_call = f"POST {TOKEN_PATH.lstrip('/')} (for {call})"
        failures = 0
        while True:
            try:
                response = await self._post_form(form)
            except httpx.TransportError as error:
                reason = type(error).__name__
                if failures < settings.retries:
                    await self._back_off(token_call, failures, budget, reason, None)
                    failures += 1
                    continue
                raise self._error(ServiceNowUnavailable, token_call, None, reason) from None
            status = response.status_code
            if status == 429:
                await self._wait_retry_after(token_call, response, budget)
                continue
            if status >= 500 and failures < settings.retries:
                await self._back_off(token_call, failures, budget, _said(response), status)
                failures += 1
                continue
            if status >= 400:
                kind = ServiceNowAuthError if status in (400, 401) else _error_class(status)
                raise self._error(kind, token_call, status, _said(response))
            return self._token_from(response, token_call)

    async def _post_form(self, form: dict[str, str]) -> httpx.Response:
        if self._limiter is not None:
            await self._limiter.acquire()
        self.request_count += 1
        return await self._http.post(TOKEN_PATH, data=form)

    def _token_from(self, response: httpx.Response, call: str) -> _Token:
        try:
            body = response.json()
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError):
            raise self._error(
                ServiceNowAuthError, call, response.status_code, "the answer holds no access_token"
            ) from None
        margin = min(TOKEN_RENEWAL_MARGIN_SECONDS, lifetime * TOKEN_RENEWAL_MARGIN_SHARE)
        return _Token(value, _clock() + max(0.0, lifetime - margin))


def _no_key_password() -> bytes:
    raise InvalidTLSMaterial(
        "the client key is encrypted; give it unencrypted (it is stored encrypted)", "client_key"
    )


def _custom_tls(settings: ConnectionSettings) -> bool:
    return bool(settings.ca_bundle or settings.client_cert)


def _check_table(table: str) -> None:
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"{table!r} is not a ServiceNow table name")


def _check_sys_id(sys_id: str) -> None:
    if not _SYS_ID.fullmatch(sys_id):
        raise ValueError(f"{sys_id!r} is not a sys_id (32 lower-case hexadecimal digits)")


def _display_value(value: str) -> str:
    if value not in ("false", "true", "all"):
        raise ValueError(f"display_value must be 'false', 'true' or 'all', not {value!r}")
    return value


def _error_class(status: int) -> type[ServiceNowError]:
    if status == 401:
        return ServiceNowAuthError
    if status == 403:
        return ServiceNowForbidden
    if status == 404:
        return ServiceNowNotFound
    if status >= 500:
        return ServiceNowUnavailable
    return ServiceNowError


def _result(response: httpx.Response, call: str, connection: str, kind: type[Any]) -> Any:
    try:
        result = response.json()["result"]
    except (ValueError, KeyError, TypeError):
        result = None
    if not isinstance(result, kind):
        raise ServiceNowError(
            connection,
            call,
            response.status_code,
            f"the answer is not a Table API result ({response.headers.get('content-type')})",
        )
    return result


def _total_count(response: httpx.Response) -> int | None:
    total = response.headers.get("X-Total-Count", "")
    return int(total) if total.isdigit() else None


def _next_offset(response: httpx.Response, offset: int, size: int) -> int | None:
    """Where the next page starts: from ``Link: …;rel="next"``, else from the offset against
    ``X-Total-Count``; ``None`` when this was the last page."""
    link = _LINK_NEXT.search(response.headers.get("Link", ""))
    if link:
        values = parse_qs(urlsplit(link.group(1)).query).get("sysparm_offset")
        if values and values[0].isdigit():
            return int(values[0])
    total = _total_count(response)
    if total is not None and offset + size < total:
        return offset + size
    return None
