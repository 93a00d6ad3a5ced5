"""CMDB lookups: a configuration item by name, instance id, IP address or host name, with
where the CMDB places it and the changes that affect it; and the mapping of CIs to the
EC2 instances of the script runner's fleet inventory (:func:`map_cis`).

The mapping rules, in order (the first that applies decides):

1. A CI that names an instance id (``cmdb_ci_vm_instance.object_id``) maps to that
   instance (**instance id**): the inventory's row in the account and region the CMDB
   places it in, or, when the inventory does not know it, the CMDB's account and region
   without SSM status.
2. Any other CI maps by its **IP address** to the inventory instance with that private IP.
3. Failing that, by **host name**: the first label of its ``host_name`` and of its
   ``fqdn``, compared without case with the instances' ``Name`` tag, and read as EC2's
   private host name (``ip-10-0-1-17`` is the instance with private IP 10.0.1.17).

Two or more instances for one CI (the same private IP in two accounts) is no mapping: the
CI is reported with the candidates. Without the script runner (not installed, or not
enabled) only rule 1 applies, on the CMDB's placement alone, and nothing has SSM status.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pcm_ops.errors import InvalidInput, NotFoundError
from pcm_servicenow_cmdb.query import Query
from pcm_servicenow_cmdb.services import changes

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_script_runner.lookup import InventoryInstance
    from pcm_servicenow_cmdb.client import ServiceNowClient

#: The script runner's plugin id: its inventory is where CIs are mapped to instances.
SCRIPT_RUNNER = "aws-script-runner"
#: How a CI was mapped to its instance.
BY_INSTANCE_ID = "instance id"
BY_IP_ADDRESS = "IP address"
BY_HOST_NAME = "host name"
#: EC2's private host name form: ``ip-10-0-1-17``.
_PRIVATE_HOST_NAME = re.compile(r"^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$")
#: How many candidates an ambiguous mapping names.
_NAMED = 5

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


# -- CIs mapped to the script runner's inventory -----------------------------------------


@dataclass(frozen=True)
class MappedInstance:
    """The EC2 instance a CI maps to.

    ``ping_status`` is SSM's (``Online``, ``ConnectionLost``, ``Inactive``, ``NotManaged``)
    from the script runner's inventory, or ``None`` when the inventory was not asked (no
    script runner) or does not know the instance (placed by the CMDB alone)."""

    instance_id: str
    account_id: str
    region: str
    name: str = ""
    private_ip: str = ""
    ping_status: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class CIMapping:
    """A CI and the instance it maps to (``matched_by``: :data:`BY_INSTANCE_ID`,
    :data:`BY_IP_ADDRESS` or :data:`BY_HOST_NAME`), or ``None`` with ``note`` saying why.
    ``note`` may also qualify a mapping (no SSM status)."""

    ci: changes.AffectedCI
    instance: MappedInstance | None = None
    matched_by: str | None = None
    note: str = ""

    @property
    def mapped(self) -> bool:
        return self.instance is not None


def inventory_available(registry: Any) -> bool:
    """Whether the script runner is loaded, so that its inventory may be asked."""
    record = registry.get(SCRIPT_RUNNER) if registry is not None else None
    if record is None or not record.loaded:
        return False
    try:
        import pcm_aws_script_runner.lookup  # noqa: F401
    except ImportError:
        return False
    return True


def _private_host_name_ip(label: str) -> str | None:
    found = _PRIVATE_HOST_NAME.match(label)
    if found is None:
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(found.groups())))
    except ValueError:
        return None


def host_labels(ci: changes.AffectedCI) -> list[str]:
    """The first labels of the CI's host name and fqdn, lower case, once each."""
    labels = (text.strip().split(".")[0].lower() for text in (ci.host_name, ci.fqdn))
    return list(dict.fromkeys(label for label in labels if label))


def _mapped(instance: InventoryInstance) -> MappedInstance:
    return MappedInstance(
        instance_id=instance.instance_id,
        account_id=instance.account_id,
        region=instance.region,
        name=instance.name,
        private_ip=instance.private_ip,
        ping_status=instance.ping_status,
        tags=dict(instance.tags),
    )


def _candidates(instances: Sequence[InventoryInstance]) -> str:
    named = [f"{i.instance_id} (account {i.account_id}, {i.region})" for i in instances]
    more = f" and {len(named) - _NAMED} more" if len(named) > _NAMED else ""
    return ", ".join(named[:_NAMED]) + more


def _by_cmdb(ci: changes.AffectedCI, note: str) -> CIMapping:
    """Rule 1 on the CMDB's placement alone."""
    if not (ci.instance_id and ci.account_id and ci.region):
        return CIMapping(
            ci, note=f"the CMDB places instance {ci.instance_id} in no account and region"
        )
    instance = MappedInstance(ci.instance_id, ci.account_id, ci.region, name=ci.name)
    return CIMapping(ci, instance, BY_INSTANCE_ID, note)


def _unmappable(ci: changes.AffectedCI) -> str | None:
    if ci.name == changes.NOT_VISIBLE and not ci.ci_class:
        return "ServiceNow does not let the integration user see this CI"
    if not ci.instance_id and not ci.ip_address and not host_labels(ci):
        return "it names no instance id, IP address or host name"
    return None


@dataclass
class _Inventory:
    """What the inventory answered, indexed for the rules."""

    by_id: dict[str, list[InventoryInstance]] = field(default_factory=dict)
    by_ip: dict[str, list[InventoryInstance]] = field(default_factory=dict)
    by_name: dict[str, list[InventoryInstance]] = field(default_factory=dict)

    @classmethod
    def of(cls, found: Sequence[InventoryInstance]) -> _Inventory:
        index = cls()
        for instance in found:
            index.by_id.setdefault(instance.instance_id, []).append(instance)
            if instance.private_ip:
                index.by_ip.setdefault(instance.private_ip, []).append(instance)
            if instance.name:
                index.by_name.setdefault(instance.name.lower(), []).append(instance)
        return index

    def by_host_name(self, labels: Sequence[str]) -> list[InventoryInstance]:
        found: dict[tuple[str, str, str], InventoryInstance] = {}
        for label in labels:
            ip = _private_host_name_ip(label)
            for instance in self.by_name.get(label, []) + self.by_ip.get(ip or "", []):
                found[(instance.account_id, instance.region, instance.instance_id)] = instance
        return list(found.values())


def _by_instance_id(ci: changes.AffectedCI, inventory: _Inventory) -> CIMapping:
    known = inventory.by_id.get(ci.instance_id or "", [])
    here = [
        i
        for i in known
        if (not ci.account_id or i.account_id == ci.account_id)
        and (not ci.region or i.region == ci.region)
    ]
    if len(here) == 1:
        return CIMapping(ci, _mapped(here[0]), BY_INSTANCE_ID)
    if len(here) > 1:
        return CIMapping(ci, note=f"ambiguous: instance id {ci.instance_id} is {_candidates(here)}")
    if known:
        return CIMapping(
            ci,
            note=f"the CMDB places {ci.instance_id} in account {ci.account_id} {ci.region}, "
            f"the inventory knows it as {_candidates(known)}",
        )
    return _by_cmdb(
        ci,
        f"not in the script runner's inventory (no SSM status): sync account "
        f"{ci.account_id} {ci.region}",
    )


def _by_address(ci: changes.AffectedCI, inventory: _Inventory) -> CIMapping:
    if ci.ip_address:
        by_ip = inventory.by_ip.get(ci.ip_address, [])
        if len(by_ip) == 1:
            return CIMapping(ci, _mapped(by_ip[0]), BY_IP_ADDRESS)
        if by_ip:
            return CIMapping(
                ci, note=f"ambiguous: IP address {ci.ip_address} is {_candidates(by_ip)}"
            )
    labels = host_labels(ci)
    by_name = inventory.by_host_name(labels)
    if len(by_name) == 1:
        return CIMapping(ci, _mapped(by_name[0]), BY_HOST_NAME)
    if by_name:
        return CIMapping(
            ci, note=f"ambiguous: host name {', '.join(labels)} is {_candidates(by_name)}"
        )
    asked = [f"IP address {ci.ip_address}"] if ci.ip_address else []
    asked += [f"host name {', '.join(labels)}"] if labels else []
    return CIMapping(ci, note=f"no instance in the inventory has {' or '.join(asked)}")


def _without_inventory(ci: changes.AffectedCI) -> CIMapping:
    reason = _unmappable(ci)
    if reason:
        return CIMapping(ci, note=reason)
    if ci.instance_id:
        return _by_cmdb(ci, "the script runner is not installed: no SSM status")
    return CIMapping(
        ci,
        note="it names no instance id; without the script runner's inventory a CI maps by "
        "the CMDB's instance id only",
    )


async def map_cis(
    cis: Sequence[changes.AffectedCI], session: AsyncSession | None
) -> list[CIMapping]:
    """Each CI with the EC2 instance it maps to, or why it maps to none (see the module's
    docstring for the rules).

    ``session``: a database session on which the script runner's inventory is read, or
    ``None`` without the script runner (see :func:`inventory_available`): then CIs map by
    the CMDB's instance id and placement only, without SSM status, and each says so.
    """
    if session is None:
        return [_without_inventory(ci) for ci in cis]
    from pcm_aws_script_runner.lookup import find_instances

    by_address = [ci for ci in cis if not ci.instance_id]
    names = [label for ci in by_address for label in host_labels(ci)]
    ips = [ci.ip_address for ci in by_address if ci.ip_address]
    ips += [ip for label in names if (ip := _private_host_name_ip(label))]
    found = await find_instances(
        session,
        instance_ids=[ci.instance_id for ci in cis if ci.instance_id],
        private_ips=ips,
        names=[name for name in names if not _private_host_name_ip(name)],
    )
    inventory = _Inventory.of(found)
    result = []
    for ci in cis:
        reason = _unmappable(ci)
        if reason:
            result.append(CIMapping(ci, note=reason))
        elif ci.instance_id:
            result.append(_by_instance_id(ci, inventory))
        else:
            result.append(_by_address(ci, inventory))
    return result


async def map_with(
    registry: Any, session: AsyncSession, cis: Sequence[changes.AffectedCI]
) -> tuple[list[CIMapping], bool]:
    """:func:`map_cis` on ``session`` when the script runner is loaded in ``registry``, else
    on the CMDB alone; and whether the inventory was asked."""
    available = inventory_available(registry)
    return await map_cis(cis, session if available else None), available
