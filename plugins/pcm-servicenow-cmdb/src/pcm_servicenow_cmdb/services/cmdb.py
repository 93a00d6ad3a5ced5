"""CMDB lookups: a configuration item by name, instance id, IP address or host name, with
where the CMDB places it and the changes that affect it."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcm_ops.errors import InvalidInput, NotFoundError
from pcm_servicenow_cmdb.query import Query
from pcm_servicenow_cmdb.services import changes

if TYPE_CHECKING:
    from pcm_servicenow_cmdb.client import ServiceNowClient

_INSTANCE_ID = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
#: How many CIs one lookup shows at most.
MAX_FOUND = 20


@dataclass(frozen=True)
class CILookup:
    """A CI the lookup found: where the CMDB places it, and the changes affecting it."""

    ci: changes.AffectedCI
    how: str
    changes: tuple[changes.Change, ...]


def _query_for(text: str) -> tuple[str, Query]:
    """What ``text`` is (an instance id, an IP address, a name) and the query for it."""
    value = text.strip()
    if _INSTANCE_ID.match(value):
        return "instance id", Query().eq("object_id", value)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return "IP address", Query().eq("ip_address", value)
    if not _NAME.match(value):
        raise InvalidInput([("q", "give a CI name, host name, instance id (i-…) or IP address")])
    return "name or host name", Query().eq("name", value).or_eq("fqdn", value)


async def lookup(client: ServiceNowClient, text: str) -> list[CILookup]:
    """The CIs matching ``text``, each with its placement and affecting changes.

    :raises InvalidInput: ``text`` is none of the forms (field ``q``).
    :raises NotFoundError: no CI matches.
    """
    how, query = _query_for(text)
    table = "cmdb_ci_vm_instance" if how == "instance id" else "cmdb_ci"
    found = await client.records(table, query=query, fields=("sys_id",), limit=MAX_FOUND)
    if how == "name or host name" and not found:
        found = await client.records(
            "cmdb_ci_server",
            query=Query().eq("host_name", text.strip()),
            fields=("sys_id",),
            limit=MAX_FOUND,
        )
    ids = [str(record.get("sys_id", "")) for record in found]
    if not ids:
        raise NotFoundError(f"the CMDB has no configuration item with {how} {text.strip()!r}")
    placed = await changes.describe_cis(client, ids)
    links = await client.records(
        "task_ci", query=Query().in_("ci_item", ids), fields=("task", "ci_item")
    )
    tasks: dict[str, list[str]] = {}
    for link in links:
        tasks.setdefault(changes.value_of(link, "ci_item"), []).append(
            changes.value_of(link, "task")
        )
    change_ids = sorted({task for linked in tasks.values() for task in linked})
    by_id = {
        change.sys_id: change for change in await changes.changes_by_sys_id(client, change_ids)
    }
    return [
        CILookup(
            ci=ci,
            how=how,
            changes=tuple(by_id[t] for t in tasks.get(ci.sys_id, []) if t in by_id),
        )
        for ci in placed
    ]
