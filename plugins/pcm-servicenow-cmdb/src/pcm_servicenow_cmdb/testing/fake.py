"""A contract-faithful fake of ServiceNow's REST Table API, served over real HTTP.

:class:`FakeServiceNow` runs a Starlette application under uvicorn on 127.0.0.1 (a free port
unless one is given), in a background thread with its own event loop, and keeps its tables in
memory. Given a certificate it serves HTTPS, and given a CA it requires client certificates
(mutual TLS). What it implements, as ServiceNow documents it:

``GET /api/now/table/{table}``
    ``sysparm_query`` (``^`` AND, ``^OR``, ``^NQ``, ``=``, ``!=``, ``>``, ``>=``, ``<``,
    ``<=``, ``IN``, ``NOT IN``, ``LIKE``, ``NOT LIKE``/``NOTLIKE``, ``STARTSWITH``,
    ``ENDSWITH``, ``ISEMPTY``, ``ISNOTEMPTY``, ``ANYTHING``, ``ORDERBY``/``ORDERBYDESC``;
    dot-walked fields such as ``task.number``; numbers compare as numbers, everything else,
    date-times included, as strings; text operators on a reference match its display value,
    the others its sys_id), ``sysparm_fields``, ``sysparm_limit`` (default
    :data:`DEFAULT_LIMIT`), ``sysparm_offset``, ``sysparm_display_value`` (``false``,
    ``true``, ``all``) and ``sysparm_exclude_reference_link``. The answer is
    ``{"result": [...]}`` with ``X-Total-Count`` and, when the records do not fit in one page,
    ``Link: <…>;rel="first",<…>;rel="prev",<…>;rel="next",<…>;rel="last"``. A query on a
    parent table (``task``, ``cmdb_ci``, ``cmdb_ci_server``) includes the records of the
    tables that extend it, as in ServiceNow.
``GET /api/now/table/{table}/{sys_id}``, ``PATCH`` (and ``PUT``) on the same path
    One record; an update changes the fields given. ``work_notes`` and ``comments`` are
    journal fields: a value is appended to the record's journal (``sys_journal_field``,
    readable through the API and with :meth:`FakeServiceNow.journal`) and the field itself
    stays empty; with ``sysparm_display_value=true`` it shows the journal, newest first.
``POST /oauth_token.do``
    OAuth 2.0 ``client_credentials`` and ``password`` grants (form-encoded), answering
    ``{"access_token", "expires_in", "token_type": "Bearer", "scope"}``.

Values are strings. A reference field holds a sys_id; the fake treats any field whose value
is the sys_id of a stored record (other than ``sys_id`` itself) as a reference to it: as
``{"link", "value"}`` unless links are excluded, and with display values as that record's
``number`` or else its ``name``. ``change_request``'s ``state``, ``approval``, ``type`` and
``risk`` have ServiceNow's choice labels.

Errors have ServiceNow's shape, ``{"error": {"message", "detail"}, "status": "failure"}``:
401 for missing or wrong credentials and expired tokens, 403 for a table the test forbade
(:meth:`~FakeServiceNow.forbid`), 404 for a missing record or one hidden by "ACL"
(:meth:`~FakeServiceNow.hide`), 400 for an unknown table or an invalid query (an unknown
field, a malformed condition: ServiceNow itself may ignore those, the fake refuses them so
that tests notice).

Controls: :meth:`~FakeServiceNow.set_latency`, :meth:`~FakeServiceNow.fail_next` (429 with
``Retry-After``, 500, 503, ...), :meth:`~FakeServiceNow.outage` (every request gets an HTML
503 page, as from a load balancer in front of an instance that is down: the port stays open,
so an outage can end), :meth:`~FakeServiceNow.lose_next_answers` (a request is applied and
answered 502), :meth:`~FakeServiceNow.hold_next_answers` (a request is applied and its answer
held back until the test releases it or the caller hangs up: kill the caller meanwhile, and
it dies between the write and knowing of it), :meth:`~FakeServiceNow.hide` (a record counts
in ``X-Total-Count`` but is dropped from its page, as ServiceNow's ACLs do after
``sysparm_limit``), :meth:`~FakeServiceNow.expire_tokens` and
:attr:`~FakeServiceNow.requests`.

Example::

    with FakeServiceNow() as sn:
        change = sn.add("change_request", short_description="Patch", state=-1)
        ...  # point a client at sn.url, user DEFAULT_USERNAME / DEFAULT_PASSWORD
        assert sn.journal(change) == ["Run 42 started"]
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

#: The integration user every fake starts with (basic authentication).
DEFAULT_USERNAME = "pcm.integration"
DEFAULT_PASSWORD = "fake-integration-password"  # noqa: S105 (the fake's own test user)
#: How long an OAuth access token lives unless :meth:`FakeServiceNow.set_token_lifetime`.
DEFAULT_TOKEN_LIFETIME = 1800
#: ``sysparm_limit`` when a request gives none.
DEFAULT_LIMIT = 10000
#: ServiceNow's date-time format (UTC through the API).
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Journal fields: a write appends an entry; the field itself stays empty.
JOURNAL_FIELDS = ("work_notes", "comments")
_JOURNAL_LABELS = {"work_notes": "Work notes", "comments": "Additional comments"}

#: Fields every record has.
SYSTEM_FIELDS = (
    "sys_id",
    "sys_class_name",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
)

#: The tables the fake knows with their own fields (besides :data:`SYSTEM_FIELDS` and those of
#: the tables they extend). Any table a record was added to is known as well.
TABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "task": (
        "number",
        "short_description",
        "description",
        "state",
        "active",
        "priority",
        "assignment_group",
        "assigned_to",
        "cmdb_ci",
        "opened_at",
        "work_notes",
        "comments",
    ),
    "change_request": (
        "type",
        "approval",
        "start_date",
        "end_date",
        "on_hold",
        "risk",
        "impact",
        "category",
        "requested_by",
        "close_code",
    ),
    "incident": ("caller_id", "category"),
    "task_ci": ("task", "ci_item"),
    "cmdb_ci": (
        "name",
        "short_description",
        "ip_address",
        "fqdn",
        "operational_status",
        "install_status",
    ),
    "cmdb_ci_vm": (),
    "cmdb_ci_vm_instance": ("object_id", "state"),
    "cmdb_ci_hardware": (),
    "cmdb_ci_computer": ("os", "os_version"),
    "cmdb_ci_server": ("host_name", "dns_domain"),
    "cmdb_ci_linux_server": (),
    "cmdb_ci_win_server": (),
    "cmdb_ci_logical_datacenter": ("region",),
    "cmdb_ci_aws_datacenter": (),
    "cmdb_ci_cloud_service_account": ("account_id", "datacenter_type"),
    "cmdb_rel_ci": ("parent", "child", "type"),
    "cmdb_rel_type": ("name", "parent_descriptor", "child_descriptor"),
    "sys_user": ("user_name", "name", "email", "active"),
    "sys_user_group": ("name", "description", "active"),
    "sys_user_grmember": ("user", "group"),
    "sys_journal_field": ("element_id", "element", "name", "value"),
}

#: Which table each table extends (a ``cmdb_ci_*`` table not listed extends ``cmdb_ci``).
PARENT_TABLES = {
    "change_request": "task",
    "incident": "task",
    "problem": "task",
    "cmdb_ci_vm": "cmdb_ci",
    "cmdb_ci_vm_instance": "cmdb_ci_vm",
    "cmdb_ci_hardware": "cmdb_ci",
    "cmdb_ci_computer": "cmdb_ci_hardware",
    "cmdb_ci_server": "cmdb_ci_computer",
    "cmdb_ci_linux_server": "cmdb_ci_server",
    "cmdb_ci_win_server": "cmdb_ci_server",
    "cmdb_ci_logical_datacenter": "cmdb_ci",
    "cmdb_ci_aws_datacenter": "cmdb_ci_logical_datacenter",
}

#: Choice labels, by table and field.
CHOICES: dict[tuple[str, str], dict[str, str]] = {
    ("change_request", "state"): {
        "-5": "New",
        "-4": "Assess",
        "-3": "Authorize",
        "-2": "Scheduled",
        "-1": "Implement",
        "0": "Review",
        "3": "Closed",
        "4": "Canceled",
    },
    ("change_request", "approval"): {
        "not requested": "Not Yet Requested",
        "requested": "Requested",
        "approved": "Approved",
        "rejected": "Rejected",
    },
    ("change_request", "type"): {
        "standard": "Standard",
        "normal": "Normal",
        "emergency": "Emergency",
    },
    ("change_request", "risk"): {"1": "Very High", "2": "High", "3": "Moderate", "4": "Low"},
}

#: The prefix of the ``number`` given to new task records.
NUMBER_PREFIXES = {"change_request": "CHG", "incident": "INC", "problem": "PRB", "task": "TASK"}

_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_FIELD = re.compile(r"[a-z_][a-z0-9_.]*")
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
#: Operators of encoded queries, longest first so that a prefix never wins.
_OPERATORS = (
    "ISNOTEMPTY",
    "ISEMPTY",
    "ANYTHING",
    "NOT IN",
    "NOT LIKE",
    "NOTLIKE",
    "STARTSWITH",
    "ENDSWITH",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
)
_UNARY = ("ISNOTEMPTY", "ISEMPTY", "ANYTHING")
_TEXT_OPERATORS = ("LIKE", "NOT LIKE", "NOTLIKE", "STARTSWITH", "ENDSWITH")


class RecordedRequest(NamedTuple):
    """One request the fake received: method, path and query-string parameters."""

    method: str
    path: str
    params: dict[str, str]


@dataclass(frozen=True)
class _OAuthClient:
    secret: str
    user: str


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None


class HeldAnswers:
    """Answers held back by :meth:`FakeServiceNow.hold_next_answers`.

    :attr:`applied` is set once all the requests it holds were applied (their writes are in
    the fake's tables) and their answers are waiting. Each answer goes out on
    :meth:`release`, is dropped when its caller closes the connection first (counted in
    :attr:`dropped`), and goes out when the fake is reset or stopped.
    """

    def __init__(self, method: str, times: int) -> None:
        self.method = method
        self.times = times
        #: Set when ``times`` requests were applied and their answers are held.
        self.applied = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._caught = 0
        self._dropped = 0

    def release(self) -> None:
        """Let the held answers (and those of requests still to come) go out."""
        self._released.set()

    @property
    def released(self) -> bool:
        """Whether :meth:`release` was called (or the fake reset or stopped)."""
        return self._released.is_set()

    @property
    def held(self) -> int:
        """How many requests were applied and held so far (at most :attr:`times`)."""
        with self._lock:
            return self._caught

    @property
    def dropped(self) -> int:
        """How many held answers found their caller gone (the connection closed)."""
        with self._lock:
            return self._dropped

    def _catch(self, method: str) -> bool:
        """Whether this applied request's answer is to be held (counts it)."""
        with self._lock:
            if method != self.method or self._caught >= self.times:
                return False
            self._caught += 1
            if self._caught == self.times:
                self.applied.set()
            return True

    async def _wait(self, request: Request) -> None:
        # Polled: the caller's hang-up is an ASGI message, the release a thread's event.
        while not self._released.is_set():
            if await request.is_disconnected():
                with self._lock:
                    self._dropped += 1
                return
            await asyncio.sleep(0.01)


class InvalidQuery(ValueError):
    """A ``sysparm_query`` the fake cannot evaluate (answered with 400)."""


@dataclass(frozen=True)
class _Condition:
    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class _ParsedQuery:
    #: Alternatives (``^NQ``), each an AND of ORs.
    alternatives: tuple[tuple[tuple[_Condition, ...], ...], ...]
    ordering: tuple[tuple[str, bool], ...]


def to_text(value: Any) -> str:
    """A value as ServiceNow stores it: a string (``""`` for ``None``, ``"true"``/``"false"``,
    date-times in UTC as ``YYYY-MM-DD HH:MM:SS``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment: datetime = value.astimezone(UTC) if value.tzinfo is not None else value
        return moment.strftime(DATETIME_FORMAT)
    return str(value)


def _now() -> str:
    return datetime.now(UTC).strftime(DATETIME_FORMAT)


def _error(status: int, message: str, detail: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "detail": detail}, "status": "failure"}, status_code=status
    )


def _ordering_key(value: str) -> tuple[int, float, str]:
    if _NUMBER.fullmatch(value):
        return (0, float(value), "")
    return (1, 0.0, value.casefold())


def _compare(left: str, operator: str, right: str) -> bool:
    if left == "":
        return False
    if _NUMBER.fullmatch(left) and _NUMBER.fullmatch(right):
        a: float | str = float(left)
        b: float | str = float(right)
    else:
        a, b = left, right
    if operator == ">":
        return a > b  # type: ignore[operator]
    if operator == ">=":
        return a >= b  # type: ignore[operator]
    if operator == "<":
        return a < b  # type: ignore[operator]
    return a <= b  # type: ignore[operator]


def _holds(value: str, operator: str, operand: str) -> bool:
    folded, wanted = value.casefold(), operand.casefold()
    if operator == "=":
        return value == operand
    if operator == "!=":
        return value != operand
    if operator in (">", ">=", "<", "<="):
        return _compare(value, operator, operand)
    if operator == "IN":
        return value in operand.split(",")
    if operator == "NOT IN":
        return value not in operand.split(",")
    if operator == "LIKE":
        return wanted in folded
    if operator in ("NOT LIKE", "NOTLIKE"):
        return wanted not in folded
    if operator == "STARTSWITH":
        return folded.startswith(wanted)
    if operator == "ENDSWITH":
        return folded.endswith(wanted)
    if operator == "ISEMPTY":
        return value == ""
    if operator == "ISNOTEMPTY":
        return value != ""
    return True  # ANYTHING


def parse_query(text: str, known_field: Callable[[str], bool]) -> _ParsedQuery:
    """Parse an encoded query; :class:`InvalidQuery` names what is wrong."""
    alternatives: list[tuple[tuple[_Condition, ...], ...]] = []
    ordering: list[tuple[str, bool]] = []
    for alternative in text.split("^NQ"):
        groups: list[list[_Condition]] = []
        for term in alternative.split("^"):
            if term in ("", "EQ"):
                continue
            if term.startswith(("ORDERBYDESC", "ORDERBY")):
                desc = term.startswith("ORDERBYDESC")
                field = term.removeprefix("ORDERBYDESC" if desc else "ORDERBY")
                if not _FIELD.fullmatch(field) or not known_field(field):
                    raise InvalidQuery(f"cannot order by {field!r}: no such field")
                ordering.append((field, desc))
                continue
            alternative_of_previous = term.startswith("OR")
            condition = _parse_condition(term[2:] if alternative_of_previous else term)
            if not known_field(condition.field):
                raise InvalidQuery(f"unknown field {condition.field!r} in {term!r}")
            if alternative_of_previous:
                if not groups:
                    raise InvalidQuery(f"{term!r} has no condition before it to be an OR of")
                groups[-1].append(condition)
            else:
                groups.append([condition])
        if groups:
            alternatives.append(tuple(tuple(group) for group in groups))
    return _ParsedQuery(tuple(alternatives), tuple(ordering))


def _parse_condition(term: str) -> _Condition:
    match = _FIELD.match(term)
    if match is None:
        raise InvalidQuery(f"{term!r} does not start with a field name")
    rest = term[match.end() :]
    for operator in _OPERATORS:
        if rest.startswith(operator):
            value = rest[len(operator) :]
            if operator in _UNARY and value:
                raise InvalidQuery(f"{operator} takes no value, in {term!r}")
            return _Condition(match.group(), operator, value)
    raise InvalidQuery(f"no operator after the field {match.group()!r} in {term!r}")


class FakeServiceNow:
    """A ServiceNow instance for tests and demos: see the module's documentation.

    :param port: the port to listen on, on 127.0.0.1 (0: a free one).
    :param certfile: serve HTTPS with this PEM certificate (for 127.0.0.1) and ``keyfile``.
    :param client_ca: with ``certfile``: require client certificates signed by this PEM CA
        (mutual TLS).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        certfile: str | None = None,
        keyfile: str | None = None,
        client_ca: str | None = None,
    ) -> None:
        if (certfile is None) != (keyfile is None):
            raise ValueError("HTTPS needs both certfile and keyfile")
        if client_ca is not None and certfile is None:
            raise ValueError("client certificates need HTTPS (certfile and keyfile)")
        self._port = port
        self._tls = {
            "ssl_certfile": certfile,
            "ssl_keyfile": keyfile,
            "ssl_ca_certs": client_ca,
            "ssl_cert_reqs": ssl.CERT_REQUIRED if client_ca else ssl.CERT_NONE,
        }
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.url = ""
        self._held_answers: list[HeldAnswers] = []
        self.app = Starlette(
            routes=[
                Route("/oauth_token.do", self._token_endpoint, methods=["POST"]),
                Route("/api/now/table/{table}", self._list_endpoint, methods=["GET"]),
                Route(
                    "/api/now/table/{table}/{sys_id}",
                    self._record_endpoint_or_lost,
                    methods=["GET", "PATCH", "PUT"],
                ),
            ]
        )
        self.reset()

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeServiceNow:
        """Start serving (in a background thread); returns once requests are answered."""
        if self._thread is not None:
            raise RuntimeError("this FakeServiceNow is already running")
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every answer on a kept-alive connection waits 40 ms for a delayed ACK.
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", self._port))
        self._socket = listening
        port = listening.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            **self._tls,  # type: ignore[arg-type]
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [listening]},
            name=f"fake-servicenow-{port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake ServiceNow server did not start")
            time.sleep(0.005)
        scheme = "https" if self._tls["ssl_certfile"] else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        with self._lock:
            for hold in self._held_answers:
                hold.release()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> FakeServiceNow:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- data ----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to a fresh instance: no records but the default user, no OAuth clients or API
        keys, no controls, an empty request log."""
        with self._lock:
            self._records: dict[str, dict[str, str]] = {}
            self._numbers: dict[str, int] = {}
            self._users: dict[str, str] = {}
            self._oauth_clients: dict[str, _OAuthClient] = {}
            self._api_keys: dict[str, str] = {}
            self._tokens: dict[str, tuple[str, float]] = {}
            self._token_lifetime = DEFAULT_TOKEN_LIFETIME
            self._hidden: set[str] = set()
            self._forbidden: set[str] = set()
            self._latency = 0.0
            self._failures: deque[_Failure] = deque()
            self._lost: dict[str, int] = {}
            for hold in self._held_answers:
                hold.release()  # a held handler must not outlive its test
            self._held_answers = []
            self._outage = False
            self._requests: list[RecordedRequest] = []
            self.add_user(DEFAULT_USERNAME, DEFAULT_PASSWORD, name="PCM-Ops Integration")

    def add(self, table: str, **fields: Any) -> str:
        """Store a record in ``table`` and return its sys_id. Values become strings (see
        :func:`to_text`); ``sys_id`` (32 hex digits), the ``sys_*`` fields and, for tasks,
        ``number`` are filled in unless given. A task's ``work_notes`` or ``comments`` become
        the first entry of its journal."""
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"{table!r} is not a table name")
        record = {name: to_text(value) for name, value in fields.items()}
        sys_id = record.setdefault("sys_id", uuid.uuid4().hex)
        if not _SYS_ID.fullmatch(sys_id):
            raise ValueError(f"sys_id must be 32 lower-case hexadecimal digits, not {sys_id!r}")
        now = _now()
        with self._lock:
            if sys_id in self._records:
                raise ValueError(f"a record with sys_id {sys_id} exists already")
            lineage = self._lineage(table)
            record.setdefault("sys_class_name", table)
            record.setdefault("sys_created_on", now)
            record.setdefault("sys_created_by", "admin")
            record.setdefault("sys_updated_on", record["sys_created_on"])
            record.setdefault("sys_updated_by", record["sys_created_by"])
            record.setdefault("sys_mod_count", "0")
            if "task" in lineage:
                if "number" not in record:
                    prefix = NUMBER_PREFIXES.get(table, "TASK")
                    self._numbers[prefix] = self._numbers.get(prefix, 30000) + 1
                    record["number"] = f"{prefix}{self._numbers[prefix]:07d}"
                notes = {field: record.pop(field, "") for field in JOURNAL_FIELDS}
                record.update(dict.fromkeys(JOURNAL_FIELDS, ""))
            else:
                notes = {}
            self._records[sys_id] = record
            for field, text in notes.items():
                if text:
                    self._append_journal(record, field, text, record["sys_created_by"])
        return sys_id

    def update(self, sys_id: str, **fields: Any) -> None:
        """Change fields of a record as someone in ServiceNow would (a change cancelled,
        approved, put on hold); ``sys_updated_on`` moves on. Journal fields are appended
        to the journal, as through the API."""
        with self._lock:
            record = self._records.get(sys_id)
            if record is None:
                raise KeyError(f"no record {sys_id}")
            for field, value in fields.items():
                if field in JOURNAL_FIELDS:
                    self._append_journal(record, field, str(value), "admin")
                else:
                    record[field] = str(value)
            record["sys_updated_on"] = datetime.now(UTC).strftime(DATETIME_FORMAT)

    def relate(self, parent: str, child: str, relation: str = "Hosted on::Hosts") -> str:
        """Relate two CIs in ``cmdb_rel_ci`` (``parent`` is "Hosted on" ``child`` by
        default); the ``cmdb_rel_type`` is made when missing. Returns the relation's sys_id."""
        with self._lock:
            kinds = [r for r in self._scope("cmdb_rel_type") if r.get("name") == relation]
            if kinds:
                kind = kinds[0]["sys_id"]
            else:
                parent_descriptor, _, child_descriptor = relation.partition("::")
                kind = self.add(
                    "cmdb_rel_type",
                    name=relation,
                    parent_descriptor=parent_descriptor,
                    child_descriptor=child_descriptor,
                )
            return self.add("cmdb_rel_ci", parent=parent, child=child, type=kind)

    def table(self, table: str) -> list[dict[str, str]]:
        """Copies of the records of ``table`` (and of the tables extending it)."""
        with self._lock:
            return [dict(record) for record in self._scope(table)]

    def get(self, sys_id: str) -> dict[str, str]:
        """A copy of one record, from whichever table holds it (``KeyError`` if none)."""
        with self._lock:
            return dict(self._records[sys_id])

    def journal(self, sys_id: str, field: str = "work_notes") -> list[str]:
        """The entries of a record's journal ``field``, oldest first."""
        with self._lock:
            return [
                entry["value"]
                for entry in self._scope("sys_journal_field")
                if entry["element_id"] == sys_id and entry["element"] == field
            ]

    # -- authentication ------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, name: str | None = None) -> str:
        """A user who may authenticate (basic, OAuth password grant); also a ``sys_user``
        record, whose sys_id is returned."""
        with self._lock:
            self._users[username] = password
            return self.add("sys_user", user_name=username, name=name or username, active=True)

    def add_oauth_client(
        self, client_id: str, client_secret: str, *, user: str = DEFAULT_USERNAME
    ) -> None:
        """An OAuth application registry entry; the client-credentials grant acts as
        ``user``."""
        with self._lock:
            self._oauth_clients[client_id] = _OAuthClient(client_secret, user)

    def add_api_key(self, key: str, *, user: str = DEFAULT_USERNAME) -> None:
        """An API key (header ``x-sn-apikey``) that authenticates as ``user``."""
        with self._lock:
            self._api_keys[key] = user

    def set_token_lifetime(self, seconds: int) -> None:
        """The ``expires_in`` of OAuth tokens issued from now on."""
        with self._lock:
            self._token_lifetime = seconds

    def expire_tokens(self) -> None:
        """Make every OAuth token issued so far invalid (the next use gets a 401)."""
        with self._lock:
            self._tokens.clear()

    # -- controls ------------------------------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (0: none)."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        with self._lock:
            self._latency = seconds

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` Table API requests (``/api/now/…``; the token endpoint is
        not affected) with ``status`` without processing them; a 429 carries
        ``Retry-After: retry_after`` when it is given."""
        if status < 400:
            raise ValueError("fail_next needs an error status (4xx or 5xx)")
        with self._lock:
            self._failures.extend(_Failure(status, retry_after) for _ in range(times))

    def lose_next_answers(self, method: str = "PATCH", times: int = 1) -> None:
        """Process the next ``times`` record requests with ``method`` (a ``PATCH`` is
        applied, a work note appended), then answer 502 instead of the result: a gateway
        that gave up after ServiceNow did the work. The caller cannot know it happened."""
        with self._lock:
            self._lost[method.upper()] = self._lost.get(method.upper(), 0) + times

    def hold_next_answers(self, method: str = "PATCH", times: int = 1) -> HeldAnswers:
        """Process the next ``times`` record requests with ``method`` (a ``PATCH`` is
        applied, a work note appended), then hold their answers back: the write is done
        and the caller does not know it yet. Returns the :class:`HeldAnswers`: wait on its
        ``applied`` event, then kill the caller (its connection closes and the answer is
        dropped) or call ``release()`` to let the answers go out. Requests that fail
        (401, 404, an injected failure) are answered at once and not counted::

            held = sn.hold_next_answers("PATCH")
            ...                                   # a worker sends its PATCH
            assert held.applied.wait(10)          # the note is in sn.journal(change)
            os.kill(worker.pid, signal.SIGKILL)   # it dies before it hears so
        """
        if times < 1:
            raise ValueError("hold_next_answers needs times >= 1")
        hold = HeldAnswers(method.upper(), times)
        with self._lock:
            self._held_answers.append(hold)
        return hold

    def outage(self, down: bool = True) -> None:
        """While ``down``, every request (the token endpoint too) gets an HTML 503 page."""
        with self._lock:
            self._outage = down

    def hide(self, table: str, sys_id: str) -> None:
        """Let an "ACL" hide a record: it still counts in ``X-Total-Count`` but is dropped from
        its page, and reading it gives 404."""
        with self._lock:
            if sys_id not in self._records or self._records[sys_id] not in self._scope(table):
                raise KeyError(f"no record {sys_id} in {table}")
            self._hidden.add(sys_id)

    def forbid(self, table: str) -> None:
        """Every request on ``table`` gets 403, as when the user lacks the role for it."""
        with self._lock:
            self._forbidden.add(table)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far (since the last :meth:`reset`)."""
        with self._lock:
            return list(self._requests)

    def table_requests(self, table: str, method: str = "GET") -> list[dict[str, str]]:
        """The query parameters of the Table API requests with ``method`` on ``table`` (its
        list or one of its records), oldest first."""
        return [
            request.params
            for request in self.requests
            if request.method == method
            and request.path.startswith("/api/now/table/")
            and request.path.split("/")[4] == table
        ]

    # -- the model -----------------------------------------------------------------------------

    def _lineage(self, table: str) -> list[str]:
        """``table`` and the tables it extends, nearest first."""
        lineage = [table]
        while True:
            parent = PARENT_TABLES.get(lineage[-1])
            if parent is None and lineage[-1].startswith("cmdb_ci_"):
                parent = "cmdb_ci"
            if parent is None:
                return lineage
            lineage.append(parent)

    def _scope(self, table: str) -> list[dict[str, str]]:
        return [
            record
            for record in self._records.values()
            if table in self._lineage(record["sys_class_name"])
        ]

    def _known_table(self, table: str) -> bool:
        return (
            table in TABLE_FIELDS
            or table in PARENT_TABLES
            or any(table in self._lineage(r["sys_class_name"]) for r in self._records.values())
        )

    def _schema_field(self, table: str, field: str) -> bool:
        return field in SYSTEM_FIELDS or any(
            field in TABLE_FIELDS.get(name, ()) for name in self._lineage(table)
        )

    def _known_field(self, table: str, path: str) -> bool:
        """Whether ``table`` (or a table extending it) has the field ``path`` starts with."""
        field = path.split(".", 1)[0]
        return self._schema_field(table, field) or any(
            field in record for record in self._scope(table)
        )

    def _reference(self, field: str, value: str) -> dict[str, str] | None:
        if field == "sys_id" or not _SYS_ID.fullmatch(value):
            return None
        return self._records.get(value)

    def _resolve(self, record: dict[str, str], path: str) -> tuple[dict[str, str], str, str]:
        """Follow a dot-walked ``path``: (the record holding the last field, its name, its
        value; ``""`` where a reference is empty or dangling)."""
        *walk, last = path.split(".")
        current = record
        for field in walk:
            target = self._reference(field, current.get(field, ""))
            if target is None:
                return current, last, ""
            current = target
        return current, last, current.get(last, "")

    def _display(self, owner: dict[str, str], field: str, value: str) -> str:
        if field in JOURNAL_FIELDS:
            return self._journal_text(owner["sys_id"], field)
        target = self._reference(field, value)
        if target is not None:
            return target.get("number") or target.get("name") or target["sys_id"]
        for table in self._lineage(owner["sys_class_name"]):
            labels = CHOICES.get((table, field))
            if labels is not None:
                return labels.get(value, value)
        return value

    def _journal_text(self, sys_id: str, field: str) -> str:
        users = {r["user_name"]: r.get("name", "") for r in self._scope("sys_user")}
        entries = []
        for entry in self._scope("sys_journal_field"):
            if entry["element_id"] == sys_id and entry["element"] == field:
                author = users.get(entry["sys_created_by"]) or entry["sys_created_by"]
                label = _JOURNAL_LABELS[field]
                entries.append(
                    f"{entry['sys_created_on']} - {author} ({label})\n{entry['value']}\n\n"
                )
        return "".join(reversed(entries))

    def _present(
        self, owner: dict[str, str], field: str, value: str, display: str, links: bool
    ) -> Any:
        target = self._reference(field, value)
        link = (
            f"{self.url}/api/now/table/{target['sys_class_name']}/{value}"
            if target is not None and links
            else None
        )
        if display == "false":
            return {"link": link, "value": value} if link else value
        shown = self._display(owner, field, value)
        if display == "true":
            return {"display_value": shown, "link": link} if link else shown
        both: dict[str, str] = {"display_value": shown, "value": value}
        if link:
            both["link"] = link
        return both

    def _render(self, table: str, record: dict[str, str], params: dict[str, str]) -> dict[str, Any]:
        display = params.get("sysparm_display_value", "false").lower()
        if display not in ("true", "all"):
            display = "false"
        links = params.get("sysparm_exclude_reference_link", "false").lower() != "true"
        requested = [f.strip() for f in params.get("sysparm_fields", "").split(",") if f.strip()]
        rendered: dict[str, Any] = {}
        for path in requested or list(record):
            first = path.split(".", 1)[0]
            if not _FIELD.fullmatch(path) or not (
                first in record or self._schema_field(record["sys_class_name"], first)
            ):
                continue  # ServiceNow leaves out fields that do not exist
            owner, field, value = self._resolve(record, path)
            rendered[path] = self._present(owner, field, value, display, links)
        return rendered

    # -- HTTP ----------------------------------------------------------------------------------

    async def _gate(self, request: Request, *, table_api: bool) -> Response | None:
        """Record the request and apply latency, outage and injected failures."""
        with self._lock:
            self._requests.append(
                RecordedRequest(request.method, request.url.path, dict(request.query_params))
            )
            latency, outage = self._latency, self._outage
            failure = self._failures.popleft() if table_api and self._failures else None
        if latency:
            await asyncio.sleep(latency)
        if outage:
            return HTMLResponse(
                "<html><body><h1>503 Service Unavailable</h1>"
                "<p>The instance is not available.</p></body></html>",
                status_code=503,
            )
        if failure is not None:
            return self._failure_response(failure)
        return None

    @staticmethod
    def _failure_response(failure: _Failure) -> Response:
        if failure.status == 429:
            response = _error(
                429,
                "Too Many Requests",
                "The rate limit for this user and endpoint has been exceeded",
            )
            if failure.retry_after is not None:
                response.headers["Retry-After"] = f"{failure.retry_after:g}"
            return response
        if failure.status >= 500:
            return _error(failure.status, "Internal Server Error", "injected by the fake")
        return _error(failure.status, "Request failed", "injected by the fake")

    def _authenticate(self, request: Request) -> str | None:
        """The user a request authenticates as, or ``None``."""
        with self._lock:
            api_key = request.headers.get("x-sn-apikey")
            if api_key is not None:
                return self._api_keys.get(api_key)
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                user, expires = self._tokens.get(credentials, ("", 0.0))
                return user if user and time.monotonic() < expires else None
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credentials, validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    return None
                username, _, password = decoded.partition(":")
                if username in self._users and secrets.compare_digest(
                    self._users[username], password
                ):
                    return username
            return None

    async def _token_endpoint(self, request: Request) -> Response:
        early = await self._gate(request, table_api=False)
        if early is not None:
            return early
        form = await request.form()

        def value(name: str) -> str:
            item = form.get(name)
            return item if isinstance(item, str) else ""

        denied = JSONResponse(
            {"error_description": "access_denied", "error": "server_error"}, status_code=401
        )
        grant = value("grant_type")
        with self._lock:
            client = self._oauth_clients.get(value("client_id"))
            if client is None or not secrets.compare_digest(client.secret, value("client_secret")):
                return denied
            if grant == "client_credentials":
                user = client.user
            elif grant == "password":
                user = value("username")
                if self._users.get(user) is None or not secrets.compare_digest(
                    self._users[user], value("password")
                ):
                    return denied
            else:
                return JSONResponse(
                    {
                        "error_description": f"unsupported grant_type {grant!r}",
                        "error": "unsupported_grant_type",
                    },
                    status_code=400,
                )
            token = secrets.token_urlsafe(48)
            lifetime = self._token_lifetime
            self._tokens[token] = (user, time.monotonic() + lifetime)
        return JSONResponse(
            {
                "access_token": token,
                "scope": "useraccount",
                "token_type": "Bearer",
                "expires_in": lifetime,
            }
        )

    async def _checked(self, request: Request, table: str) -> Response | None:
        """The error answer for a request that may not go on, or ``None``."""
        early = await self._gate(request, table_api=True)
        if early is not None:
            return early
        if self._authenticate(request) is None:
            return _error(401, "User Not Authenticated", "Required to provide Auth information")
        with self._lock:
            if not _TABLE_NAME.fullmatch(table) or not self._known_table(table):
                return _error(400, f"Invalid table {table}")
            if table in self._forbidden:
                if request.method == "GET":
                    return _error(403, "User Not Authorized", "Not sufficient permissions")
                return _error(
                    403,
                    "Operation Failed",
                    "ACL Exception Update Failed due to security constraints",
                )
        return None

    async def _list_endpoint(self, request: Request) -> Response:
        table = request.path_params["table"]
        refused = await self._checked(request, table)
        if refused is not None:
            return refused
        params = dict(request.query_params)
        try:
            limit = int(params.get("sysparm_limit", DEFAULT_LIMIT))
            offset = int(params.get("sysparm_offset", 0))
        except ValueError:
            return _error(400, "Invalid sysparm_limit or sysparm_offset", "must be integers")
        if limit < 1 or offset < 0:
            return _error(400, "Invalid sysparm_limit or sysparm_offset", "out of range")
        with self._lock:
            try:
                query = parse_query(
                    params.get("sysparm_query", ""), lambda f: self._known_field(table, f)
                )
            except InvalidQuery as error:
                return _error(400, "Invalid query", str(error))
            matching = [r for r in self._scope(table) if self._matches(r, query)]
            for field, desc in reversed(query.ordering):
                matching.sort(
                    key=lambda r, f=field: _ordering_key(self._resolve(r, f)[2]),  # type: ignore[misc]
                    reverse=desc,
                )
            total = len(matching)
            page = [
                self._render(table, record, params)
                for record in matching[offset : offset + limit]
                if record["sys_id"] not in self._hidden
            ]
        headers = {"X-Total-Count": str(total)}
        link = self._link_header(request, params, total, limit, offset)
        if link:
            headers["Link"] = link
        return JSONResponse({"result": page}, headers=headers)

    def _link_header(
        self, request: Request, params: dict[str, str], total: int, limit: int, offset: int
    ) -> str:
        if total <= limit and offset == 0:
            return ""
        base = f"{self.url}{request.url.path}"

        def at(position: int) -> str:
            query = urlencode({**params, "sysparm_limit": limit, "sysparm_offset": position})
            return f"<{base}?{query}>"

        last = max(0, (total - 1) // limit * limit)
        links = [f'{at(0)};rel="first"']
        if offset > 0:
            links.append(f'{at(max(0, offset - limit))};rel="prev"')
        if offset + limit < total:
            links.append(f'{at(offset + limit)};rel="next"')
        links.append(f'{at(last)};rel="last"')
        return ",".join(links)

    def _matches(self, record: dict[str, str], query: _ParsedQuery) -> bool:
        if not query.alternatives:
            return True
        return any(
            all(
                any(self._holds(record, condition) for condition in alternatives)
                for alternatives in groups
            )
            for groups in query.alternatives
        )

    def _holds(self, record: dict[str, str], condition: _Condition) -> bool:
        owner, field, value = self._resolve(record, condition.field)
        if condition.operator in _TEXT_OPERATORS and self._reference(field, value) is not None:
            # As in ServiceNow, text operators on a reference match its display value.
            value = self._display(owner, field, value)
        return _holds(value, condition.operator, condition.value)

    async def _record_endpoint_or_lost(self, request: Request) -> Response:
        response = await self._record_endpoint(request)
        with self._lock:
            applied = response.status_code < 400
            lost = self._lost.get(request.method, 0) if applied else 0
            if lost:
                self._lost[request.method] = lost - 1
            holds = self._held_answers if applied else []
            hold = next((h for h in holds if h._catch(request.method)), None)
        if hold is not None:
            await hold._wait(request)
        if lost:
            return _error(502, "Bad Gateway", "the answer was lost (injected by the fake)")
        return response

    async def _record_endpoint(self, request: Request) -> Response:
        table = request.path_params["table"]
        sys_id = request.path_params["sys_id"]
        refused = await self._checked(request, table)
        if refused is not None:
            return refused
        values: Any = None
        if request.method != "GET":
            try:
                values = await request.json()
            except ValueError:
                values = None
            if not isinstance(values, dict):
                return _error(
                    400, "Exception while reading request", "The body must be a JSON object"
                )
        params = dict(request.query_params)
        with self._lock:
            user = self._authenticate(request) or ""
            record = self._records.get(sys_id)
            if (
                record is None
                or sys_id in self._hidden
                or table not in self._lineage(record["sys_class_name"])
            ):
                return _error(
                    404,
                    "No Record found",
                    "Record doesn't exist or ACL restricts the record retrieval",
                )
            if values is not None:
                self._update(record, values, user)
            return JSONResponse({"result": self._render(table, record, params)})

    def _append_journal(self, record: dict[str, str], field: str, text: str, user: str) -> None:
        self.add(
            "sys_journal_field",
            element_id=record["sys_id"],
            element=field,
            name=record["sys_class_name"],
            value=text,
            sys_created_by=user,
        )

    def _update(self, record: dict[str, str], values: dict[str, Any], user: str) -> None:
        lineage = self._lineage(record["sys_class_name"])
        for field, value in values.items():
            if field.startswith("sys_"):
                continue  # read-only
            text = to_text(value)
            if field in JOURNAL_FIELDS and "task" in lineage:
                if text:
                    self._append_journal(record, field, text, user)
                continue
            record[field] = text
        record["sys_updated_on"] = _now()
        record["sys_updated_by"] = user
        record["sys_mod_count"] = str(int(record.get("sys_mod_count", "0")) + 1)
