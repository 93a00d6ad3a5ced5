"""The fleet inventory, read by other plugins: a small, stable lookup API.

Another plugin that needs to know which instances the script runner knows (a CMDB mapping
its configuration items to EC2 instances, a policy reading instance tags) calls
:func:`find_instances` with a database session and gets :class:`InventoryInstance` values,
never the table rows::

    from pcm_aws_script_runner.lookup import find_instances

    async with context.session() as session:
        found = await find_instances(session, private_ips=["10.0.1.17"])
    for instance in found:
        print(instance.account_id, instance.region, instance.instance_id, instance.ping_status)

Import it lazily, where it is needed, so that your plugin still loads without the script
runner. The inventory is what the last sync saw (see the plugin's docs, "Fleet
inventory"): nothing here calls AWS.

Stability: within a major version of ``pcm-aws-script-runner`` the names, arguments and
fields here stay; fields may be added to :class:`InventoryInstance` (always with defaults),
none is removed or renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["InventoryInstance", "find_instances"]

#: How many values go into one ``IN (...)`` (SQLite limits a statement's parameters).
_CHUNK = 500


@dataclass(frozen=True)
class InventoryInstance:
    """One instance of the fleet inventory, as the last sync saw it.

    Attributes:
        account_id: the 12-digit AWS account.
        region: its region (``eu-west-1``, ``us-gov-west-1``).
        instance_id: ``i-…`` (EC2) or ``mi-…`` (a hybrid managed node).
        name: its ``Name`` tag (SSM's computer name for a hybrid node); may be ``""``.
        private_ip: its private IPv4 address, or ``""``.
        ping_status: SSM's ping status: ``Online``, ``ConnectionLost``, ``Inactive``, or
            ``NotManaged`` when SSM does not know the instance.
        ssm_managed: whether SSM knows it as a managed node (a script can run on it).
        state: EC2's state (``running``, ``stopped``…); ``""`` for a node EC2 does not know.
        platform: ``Linux``, ``Windows``, ``MacOS`` or ``""``.
        tags: its tags (read-only).
        synced_at: when a sync last saw it.
    """

    account_id: str
    region: str
    instance_id: str
    name: str = ""
    private_ip: str = ""
    ping_status: str = "NotManaged"
    ssm_managed: bool = False
    state: str = ""
    platform: str = ""
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    synced_at: datetime | None = None

    def has_tag(self, key: str, value: str) -> bool:
        """Whether the instance carries tag ``key`` with exactly ``value``."""
        return self.tags.get(key) == value


def _chunks(values: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(value for value in values if value))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


def _instance(row: Any) -> InventoryInstance:
    return InventoryInstance(
        account_id=row.account_id,
        region=row.region,
        instance_id=row.instance_id,
        name=row.name,
        private_ip=row.private_ip,
        ping_status=row.ping_status,
        ssm_managed=row.ssm_managed,
        state=row.state,
        platform=row.platform,
        tags=MappingProxyType(dict(row.tags or {})),
        synced_at=row.synced_at,
    )


async def find_instances(
    session: AsyncSession,
    *,
    instance_ids: Iterable[str] = (),
    private_ips: Iterable[str] = (),
    names: Iterable[str] = (),
) -> list[InventoryInstance]:
    """The inventory's instances whose id is among ``instance_ids``, **or** whose private
    IP is among ``private_ips``, **or** whose ``Name`` tag is among ``names`` (compared
    case-insensitively); each instance once, sorted by account, region and instance id.

    An instance id or an IP may appear more than once in the result: the same private IP
    in two accounts (or VPCs), or one id seen in two account-regions. Telling those apart is
    the caller's business (compare ``account_id`` and ``region``).

    Args:
        session: a database session (the request's, or ``context.session()``'s).
        instance_ids: ``i-…`` / ``mi-…`` ids.
        private_ips: private IPv4 addresses (``10.0.1.17``).
        names: ``Name`` tag values (``web-01``, ``WEB-01``).

    Returns:
        The matching instances; ``[]`` when nothing matches or nothing was asked for.
    """
    from sqlalchemy import func
    from sqlmodel import col, select

    from pcm_aws_script_runner.models import AwsSrInstance

    conditions: list[Any] = []
    for chunk in _chunks(instance_ids):
        conditions.append(col(AwsSrInstance.instance_id).in_(chunk))
    for chunk in _chunks(private_ips):
        conditions.append(col(AwsSrInstance.private_ip).in_(chunk))
    for chunk in _chunks(name.strip().lower() for name in names):
        conditions.append(func.lower(col(AwsSrInstance.name)).in_(chunk))
    found: dict[int, InventoryInstance] = {}
    for condition in conditions:
        statement = select(AwsSrInstance).where(condition)
        for row in (await session.exec(statement)).all():
            found.setdefault(row.id or 0, _instance(row))
    return sorted(found.values(), key=lambda i: (i.account_id, i.region, i.instance_id))
