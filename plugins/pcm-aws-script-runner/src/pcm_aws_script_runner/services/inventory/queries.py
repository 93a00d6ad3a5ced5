"""Reading the inventory: instances matching a filter, sorted and paged, and by id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select

from pcm_aws_script_runner.models import (
    AwsSrInstance,
    AwsSrInstanceTag,
)
from pcm_aws_script_runner.services.errors import InvalidInput, NotFound
from pcm_aws_script_runner.services.inventory.filters import InventoryFilter

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession


#: Sort keys: the column(s) each sorts by; ties are broken by account, region and id.
SORTS: dict[str, tuple[Any, ...]] = {
    "name": (col(AwsSrInstance.name),),
    "instance_id": (col(AwsSrInstance.instance_id),),
    "account_id": (col(AwsSrInstance.account_id),),
    "region": (col(AwsSrInstance.region),),
    "state": (col(AwsSrInstance.state),),
    "platform": (col(AwsSrInstance.platform),),
    "ping_status": (col(AwsSrInstance.ping_status),),
    "private_ip": (col(AwsSrInstance.private_ip),),
    "instance_type": (col(AwsSrInstance.instance_type),),
    "agent_version": (col(AwsSrInstance.agent_version),),
    "launched_at": (col(AwsSrInstance.launched_at),),
    "last_ping_at": (col(AwsSrInstance.last_ping_at),),
    "synced_at": (col(AwsSrInstance.synced_at),),
}
_NULLABLE_SORTS = frozenset({"launched_at", "last_ping_at"})
_TIE_BREAKERS = (
    col(AwsSrInstance.account_id),
    col(AwsSrInstance.region),
    col(AwsSrInstance.instance_id),
)


def _conditions(flt: InventoryFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for field, column in (
        ("account_ids", AwsSrInstance.account_id),
        ("regions", AwsSrInstance.region),
        ("states", AwsSrInstance.state),
        ("platforms", AwsSrInstance.platform),
        ("ping_statuses", AwsSrInstance.ping_status),
    ):
        values = getattr(flt, field)
        if values:
            conditions.append(col(column).in_(values))
    for tag in flt.tags:
        match = select(AwsSrInstanceTag.instance_pk).where(
            AwsSrInstanceTag.instance_pk == AwsSrInstance.id, AwsSrInstanceTag.key == tag.key
        )
        if tag.value is not None:
            match = match.where(AwsSrInstanceTag.value == tag.value)
        conditions.append(match.exists())
    if flt.search:
        conditions.append(
            col(AwsSrInstance.name).icontains(flt.search, autoescape=True)
            | col(AwsSrInstance.instance_id).icontains(flt.search, autoescape=True)
        )
    return conditions


def _order(sort: str, descending: bool) -> list[Any]:
    columns = SORTS.get(sort)
    if columns is None:
        raise InvalidInput(
            [("sort", f"{sort!r} is not a sort key; use one of: {', '.join(SORTS)}")]
        )
    order = []
    for column in (*columns, *_TIE_BREAKERS):
        ordered = column.desc() if descending else column.asc()
        order.append(ordered.nulls_last() if sort in _NULLABLE_SORTS else ordered)
    return order


async def query_instances(
    session: AsyncSession,
    flt: InventoryFilter,
    *,
    sort: str = "name",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AwsSrInstance], int]:
    """One page of the instances matching ``flt``, and how many match in all.

    :param sort: one of :data:`SORTS`; ties are broken by account, region and instance id,
        so that pages never overlap.
    :raises InvalidInput: an unknown sort key (field ``sort``), a negative offset or a
        limit below 1.
    """
    problems = []
    if limit < 1:
        problems.append(("limit", "must be at least 1"))
    if offset < 0:
        problems.append(("offset", "must not be negative"))
    if problems:
        raise InvalidInput(problems)
    order = _order(sort, descending)
    conditions = _conditions(flt)
    page = select(AwsSrInstance).where(*conditions).order_by(*order).limit(limit).offset(offset)
    rows = list((await session.exec(page)).all())
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    counted = select(func.count()).select_from(AwsSrInstance).where(*conditions)
    total = int((await session.exec(counted)).one())
    return rows, total


async def count_instances(session: AsyncSession, flt: InventoryFilter) -> int:
    """How many instances match ``flt``."""
    counted = select(func.count()).select_from(AwsSrInstance).where(*_conditions(flt))
    return int((await session.exec(counted)).one())


async def matching_instances(session: AsyncSession, flt: InventoryFilter) -> list[AwsSrInstance]:
    """Every instance matching ``flt`` (by account, region and instance id): what "select
    all matching" means when an execution runs."""
    statement = select(AwsSrInstance).where(*_conditions(flt)).order_by(*_TIE_BREAKERS)
    return list((await session.exec(statement)).all())


async def instances_by_ids(
    session: AsyncSession, instance_ids: Sequence[str]
) -> dict[str, AwsSrInstance]:
    """The known instances among ``instance_ids``, by instance id (ids the inventory does
    not know are left out)."""
    return await _first_by_id(session, select(AwsSrInstance), instance_ids)


class InstanceRow(NamedTuple):
    """What planning a run reads of an inventory instance (:func:`instance_rows_by_ids`)."""

    instance_id: str
    account_id: str
    region: str
    name: str
    ssm_managed: bool
    ping_status: str


async def instance_rows_by_ids(
    session: AsyncSession, instance_ids: Sequence[str]
) -> dict[str, InstanceRow]:
    """:func:`instances_by_ids` as :class:`InstanceRow` tuples, without an ORM object per
    instance: building those was most of the time of planning a run on thousands of
    instances. Plain tuples, not SQLAlchemy's rows, whose attributes cost 0.3 µs a read
    (six per instance: a tenth of a ``POST /executions`` at 20,000)."""
    # The columns are InstanceRow's fields, in its order (instance_id first: the key).
    columns = [getattr(AwsSrInstance, name) for name in InstanceRow._fields]
    statement = select(*columns)
    return await _first_by_id(session, statement, instance_ids, InstanceRow._make)


async def _first_by_id(
    session: AsyncSession,
    statement: Any,
    instance_ids: Sequence[str],
    make: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """``statement``'s rows for ``instance_ids`` (each made into ``make(row)`` when given),
    by instance id: the first by account and region when an id is in several
    account-regions."""
    found: dict[str, Any] = {}
    wanted = list(dict.fromkeys(instance_ids))
    for start in range(0, len(wanted), 500):  # SQLite limits the parameters of a statement
        chunk = wanted[start : start + 500]
        chunked = statement.where(col(AwsSrInstance.instance_id).in_(chunk)).order_by(
            *_TIE_BREAKERS
        )
        for row in (await session.exec(chunked)).all():
            item = row if make is None else make(row)
            found.setdefault(item.instance_id, item)
    return found


async def get_instance(
    session: AsyncSession, account_id: str, region: str, instance_id: str
) -> AwsSrInstance:
    """:raises NotFound: the inventory has no such instance."""
    statement = select(AwsSrInstance).where(
        AwsSrInstance.account_id == account_id,
        AwsSrInstance.region == region,
        AwsSrInstance.instance_id == instance_id,
    )
    row = (await session.exec(statement)).first()
    if row is None:
        raise NotFound(
            f"the inventory has no instance {instance_id} in account {account_id}, region "
            f"{region}; sync the inventory if it is new"
        )
    return row
