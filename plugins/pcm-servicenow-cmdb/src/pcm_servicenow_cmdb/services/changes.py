"""Change requests and their affected configuration items, read from ServiceNow.

A change comes from ``change_request`` (values and display values at once:
``sysparm_display_value=all``); its affected CIs from ``task_ci``. A CI that is an EC2
instance is a ``cmdb_ci_vm_instance`` whose ``object_id`` is the instance id, *Hosted on* a
``cmdb_ci_aws_datacenter`` (its ``region``), itself *Hosted on* a
``cmdb_ci_cloud_service_account`` (its ``account_id``): :func:`affected_cis` follows those
relations (``cmdb_rel_ci``) with one query per step for every CI at once, never one per CI.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pcm_ops.errors import InvalidInput, NotFoundError
from pcm_servicenow_cmdb.query import DATETIME_FORMAT, Query, search_terms

if TYPE_CHECKING:
    from pcm_servicenow_cmdb.client import ServiceNowClient

#: change_request.state: value -> label.
STATES = {
    "-5": "New",
    "-4": "Assess",
    "-3": "Authorize",
    "-2": "Scheduled",
    "-1": "Implement",
    "0": "Review",
    "3": "Closed",
    "4": "Canceled",
}
#: The name of a CI the integration user may not see (hidden by ACL, or deleted since).
NOT_VISIBLE = "(not visible)"
CHANGE_FIELDS = (
    "sys_id",
    "number",
    "short_description",
    "type",
    "state",
    "approval",
    "start_date",
    "end_date",
    "on_hold",
    "assignment_group",
    "cmdb_ci",
    "risk",
)
_CHANGE_NUMBER = re.compile(r"^CHG\d{1,12}$")
#: How many batches of one step are asked for at once (the connection's rate limit holds
#: on top of it).
CONCURRENCY = 8
#: How many sys_ids go into one ``sys_idIN...`` condition (URLs stay well under 8 KB).
IN_BATCH = 100


@dataclass(frozen=True)
class Change:
    """A change request as the plugin uses it."""

    sys_id: str
    number: str
    short_description: str
    type: str
    state: str
    state_label: str
    approval: str
    start: datetime | None
    end: datetime | None
    on_hold: bool
    assignment_group: str
    assignment_group_id: str
    risk: str

    def window_open(self, now: datetime) -> bool:
        """Whether ``now`` is inside the planned window (both ends set)."""
        return self.start is not None and self.end is not None and self.start <= now <= self.end


@dataclass(frozen=True)
class AffectedCI:
    """A configuration item a change affects, with what the CMDB says about where it runs."""

    sys_id: str
    name: str
    ci_class: str
    instance_id: str | None = None
    ip_address: str = ""
    host_name: str = ""
    fqdn: str = ""
    account_id: str | None = None
    region: str | None = None
    relations: tuple[str, ...] = field(default=())


def value_of(record: Mapping[str, Any], name: str) -> str:
    """A field's value, whatever ``sysparm_display_value`` was (``all`` gives a dict)."""
    raw = record.get(name, "")
    if isinstance(raw, dict):
        raw = raw.get("value", "")
    return "" if raw is None else str(raw)


def _display(record: Mapping[str, Any], name: str) -> str:
    raw = record.get(name, "")
    if isinstance(raw, dict):
        raw = raw.get("display_value", raw.get("value", ""))
    return "" if raw is None else str(raw)


def _datetime(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def change_of(record: Mapping[str, Any]) -> Change:
    """A :class:`Change` from a ``change_request`` record (``display_value`` ``all`` or
    ``false``)."""
    state = value_of(record, "state")
    return Change(
        sys_id=value_of(record, "sys_id"),
        number=value_of(record, "number"),
        short_description=value_of(record, "short_description"),
        type=value_of(record, "type"),
        state=state,
        state_label=STATES.get(state, _display(record, "state") or state),
        approval=value_of(record, "approval"),
        start=_datetime(value_of(record, "start_date")),
        end=_datetime(value_of(record, "end_date")),
        on_hold=value_of(record, "on_hold").lower() == "true",
        assignment_group=_display(record, "assignment_group"),
        assignment_group_id=value_of(record, "assignment_group"),
        risk=_display(record, "risk"),
    )


@dataclass(frozen=True)
class ChangeSearch:
    """Filters of the change browser; every one optional."""

    text: str = ""
    states: Sequence[str] = ()
    approval: str | None = None
    type: str | None = None
    assignment_groups: Sequence[str] = ()
    #: Assignment groups by name (``assignment_group.name``): the "mine" filter.
    group_names: Sequence[str] = ()
    open_at: datetime | None = None
    limit: int = 50
    offset: int = 0

    def query(self) -> Query:
        query = Query()
        text = self.text.strip()
        if _CHANGE_NUMBER.match(text.upper()):
            query = query.starts_with("number", text.upper())
        else:
            for term in search_terms(text):
                query = query.like("short_description", term)
        if self.states:
            query = query.in_("state", list(self.states))
        if self.approval:
            query = query.eq("approval", self.approval)
        if self.type:
            query = query.eq("type", self.type)
        if self.assignment_groups:
            query = query.in_("assignment_group", list(self.assignment_groups))
        if self.group_names:
            query = query.in_("assignment_group.name", list(self.group_names))
        if self.open_at is not None:
            query = query.le("start_date", self.open_at).ge("end_date", self.open_at)
        return query.order_by("start_date", desc=True)


def groups_of(mapping: Mapping[str, Sequence[str]], username: str) -> list[str]:
    """The ServiceNow assignment groups of PCM-Ops user ``username`` (the ``groups``
    setting): the "mine" filter.

    :raises InvalidInput: the user has no groups configured (field ``mine``): an empty list
        of changes would wrongly say that nothing is assigned to them.
    """
    names = list(mapping.get(username, ()))
    if not names:
        raise InvalidInput(
            [
                (
                    "mine",
                    f"no ServiceNow assignment groups are configured for user {username!r}: "
                    f"an administrator adds them to the settings ([servicenow-cmdb.groups] "
                    f'{username} = ["Group name", ...]); until then, filter by words or state',
                )
            ]
        )
    return names


async def list_changes(client: ServiceNowClient, search: ChangeSearch) -> list[Change]:
    """The changes matching ``search``, newest planned start first."""
    records = await client.records(
        "change_request",
        query=search.query(),
        fields=CHANGE_FIELDS,
        display_value="all",
        limit=search.offset + search.limit,
    )
    return [change_of(record) for record in records[search.offset :]]


async def get_change(client: ServiceNowClient, number: str) -> Change:
    """The change numbered ``number`` (``CHG0030001``).

    :raises NotFoundError: ServiceNow has none by that number (or hides it by ACL).
    """
    records = await client.records(
        "change_request",
        query=Query().eq("number", number.strip()),
        fields=CHANGE_FIELDS,
        display_value="all",
        limit=1,
    )
    if not records:
        raise NotFoundError(
            f"ServiceNow has no change {number!r} (or the integration user may not see it)"
        )
    return change_of(records[0])


def _batches(values: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(value for value in values if value))
    return [unique[i : i + IN_BATCH] for i in range(0, len(unique), IN_BATCH)]


async def _gather_batches(
    values: Iterable[str], fetch: Callable[[list[str]], Awaitable[list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """``fetch`` each batch of ``values``, :data:`CONCURRENCY` at a time; all the records."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(batch: list[str]) -> list[dict[str, Any]]:
        async with limit:
            return await fetch(batch)

    pages = await asyncio.gather(*(one(batch) for batch in _batches(values)))
    return [record for page in pages for record in page]


async def _by_sys_id(
    client: ServiceNowClient, table: str, sys_ids: Iterable[str], fields: Sequence[str]
) -> dict[str, dict[str, Any]]:
    async def fetch(batch: list[str]) -> list[dict[str, Any]]:
        return await client.records(
            table, query=Query().in_("sys_id", batch), fields=("sys_id", *fields)
        )

    return {value_of(record, "sys_id"): record for record in await _gather_batches(sys_ids, fetch)}


async def _hosted_on(client: ServiceNowClient, parents: Iterable[str]) -> dict[str, list[str]]:
    """``parent sys_id -> child sys_ids`` of the *Hosted on* relations of ``parents``."""

    async def fetch(batch: list[str]) -> list[dict[str, Any]]:
        return await client.records(
            "cmdb_rel_ci",
            query=Query().in_("parent", batch).like("type.name", "Hosted on"),
            fields=("parent", "child", "type"),
        )

    hosts: dict[str, list[str]] = {}
    for record in await _gather_batches(parents, fetch):
        hosts.setdefault(value_of(record, "parent"), []).append(value_of(record, "child"))
    return hosts


async def affected_cis(client: ServiceNowClient, change: Change) -> list[AffectedCI]:
    """The change's affected CIs (``task_ci``), with instance ids, IPs and host names, and
    for EC2 instances the account and region the CMDB relates them to."""
    links = await client.records(
        "task_ci",
        query=Query().eq("task", change.sys_id),
        fields=("ci_item",),
        concurrency=CONCURRENCY,
    )
    return await describe_cis(client, [value_of(link, "ci_item") for link in links])


async def changes_by_sys_id(client: ServiceNowClient, sys_ids: Sequence[str]) -> list[Change]:
    """The change requests among ``sys_ids`` (other tasks are left out)."""
    found = await _by_sys_id(client, "change_request", sys_ids, CHANGE_FIELDS)
    return [change_of(record) for record in found.values()]


async def describe_cis(client: ServiceNowClient, ci_ids: Sequence[str]) -> list[AffectedCI]:
    """CIs by sys_id, with instance ids, IPs and host names, and for EC2 instances the
    account and region the CMDB relates them to: one query per step for all of them."""
    base = await _by_sys_id(
        client, "cmdb_ci", ci_ids, ("name", "sys_class_name", "ip_address", "fqdn")
    )
    vm_ids = [
        sys_id
        for sys_id, ci in base.items()
        if value_of(ci, "sys_class_name") == "cmdb_ci_vm_instance"
    ]
    vm_set = set(vm_ids)
    vms, servers = await asyncio.gather(
        _by_sys_id(
            client, "cmdb_ci_vm_instance", vm_ids, ("object_id", "name", "ip_address", "fqdn")
        ),
        _by_sys_id(
            client,
            "cmdb_ci_server",
            [sys_id for sys_id in base if sys_id not in vm_set],
            ("host_name", "fqdn", "ip_address"),
        ),
    )
    datacenter_of = await _hosted_on(client, vms)
    datacenters = await _by_sys_id(
        client,
        "cmdb_ci_aws_datacenter",
        [dc for hosts in datacenter_of.values() for dc in hosts],
        ("region",),
    )
    account_of = await _hosted_on(client, datacenters)
    accounts = await _by_sys_id(
        client,
        "cmdb_ci_cloud_service_account",
        [account for hosts in account_of.values() for account in hosts],
        ("account_id",),
    )
    result = []
    for sys_id in dict.fromkeys(ci_ids):
        ci = base.get(sys_id)
        if ci is None:  # hidden by ACL, or deleted since
            result.append(AffectedCI(sys_id, NOT_VISIBLE, ""))
            continue
        vm, server = vms.get(sys_id), servers.get(sys_id, {})
        region = account = None
        relations: list[str] = []
        for dc in datacenter_of.get(sys_id, []):
            if dc in datacenters:
                region = value_of(datacenters[dc], "region") or None
                relations.append(f"Hosted on datacenter {region}")
                for acc in account_of.get(dc, []):
                    if acc in accounts:
                        account = value_of(accounts[acc], "account_id") or None
                        relations.append(f"Hosted on account {account}")
        result.append(
            AffectedCI(
                sys_id=sys_id,
                name=value_of(ci, "name"),
                ci_class=value_of(ci, "sys_class_name"),
                instance_id=(value_of(vm, "object_id") or None) if vm else None,
                ip_address=value_of(ci, "ip_address") or value_of(server, "ip_address"),
                host_name=value_of(server, "host_name"),
                fqdn=value_of(ci, "fqdn") or value_of(server, "fqdn"),
                account_id=account,
                region=region,
                relations=tuple(relations),
            )
        )
    return result


@dataclass(frozen=True)
class JournalEntry:
    """One work note of a change."""

    created_on: datetime | None
    created_by: str
    text: str


async def work_notes(client: ServiceNowClient, sys_id: str, limit: int = 50) -> list[JournalEntry]:
    """The change's most recent work notes (``sys_journal_field``), newest first."""
    rows = await client.records(
        "sys_journal_field",
        query=Query()
        .eq("element_id", sys_id)
        .eq("element", "work_notes")
        .order_by("sys_created_on", desc=True),
        fields=("sys_created_on", "sys_created_by", "value"),
        limit=limit,
    )
    return [
        JournalEntry(
            created_on=_datetime(value_of(row, "sys_created_on")),
            created_by=value_of(row, "sys_created_by"),
            text=value_of(row, "value"),
        )
        for row in rows
    ]
