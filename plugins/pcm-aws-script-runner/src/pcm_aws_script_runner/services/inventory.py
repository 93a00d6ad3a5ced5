"""The fleet inventory as the rest of the plugin reads it: filters, queries, sync state,
saved filters, and starting a sync.

Browsing never waits on AWS: everything here reads the tables a sync job fills
(:mod:`pcm_aws_script_runner.jobs.inventory`, writing through
:mod:`pcm_aws_script_runner.services.inventory_sync`). A filter is an
:class:`InventoryFilter`; the API and the pages read it from query parameters
(:func:`filter_from_query`), saved filters and executions store it as JSON
(:meth:`InventoryFilter.to_json`, :func:`parse_filter`), and an execution that targets
"every instance matching" resolves it when it runs (:func:`matching_instances`).

Saved filters are changed with an audit event in the same transaction (``object_type``
``saved_filter``; actions ``aws-script-runner.saved_filter.create`` / ``.update`` /
``.delete``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from sqlalchemy import ColumnElement, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from pcm_aws_common.patterns import is_account_id, is_region
from pcm_aws_script_runner.domain import InstanceState, PingStatus, Platform, SyncStatus
from pcm_aws_script_runner.ids import (
    INVENTORY_QUEUE,
    INVENTORY_SYNC_ACTION,
    SAVED_FILTER_ACTION,
    SYNC_WORKFLOW,
)
from pcm_aws_script_runner.models import (
    AwsSrInstance,
    AwsSrInstanceTag,
    AwsSrInventorySync,
    AwsSrSavedFilter,
)
from pcm_aws_script_runner.services.errors import Conflict, InvalidInput, NotFound
from pcm_ops import audit
from pcm_ops.db.types import utcnow

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_script_runner.services.scripts import Actor

__all__ = [
    "PING_STATUSES",
    "PLATFORMS",
    "QUERY_PARAMETERS",
    "SORTS",
    "STATES",
    "AccountRegionStatus",
    "InventoryFilter",
    "InventoryStatus",
    "TagFilter",
    "clean_account_regions",
    "create_saved_filter",
    "delete_saved_filter",
    "enqueue_sync",
    "filter_from_query",
    "filter_to_query",
    "get_instance",
    "get_saved_filter",
    "instances_by_ids",
    "inventory_status",
    "list_saved_filters",
    "matching_instances",
    "parse_filter",
    "query_instances",
    "request_sync",
    "saved_filter_of",
    "update_saved_filter",
]

#: EC2 instance states a filter may name, platforms, SSM ping statuses (values of the
#: :mod:`pcm_aws_script_runner.domain` enums, in their order).
STATES = tuple(state.value for state in InstanceState)
PLATFORMS = tuple(platform.value for platform in Platform)
PING_STATUSES = tuple(status.value for status in PingStatus)


# -------------------------------------------------------------------------------------------
# Filters
# -------------------------------------------------------------------------------------------


def _account_id(value: str) -> str:
    value = value.strip()
    if not is_account_id(value):
        raise ValueError(f"{value!r} is not an AWS account id: give its 12 digits")
    return value


def _region(value: str) -> str:
    value = value.strip().lower()
    if not is_region(value):
        raise ValueError(f"{value!r} is not an AWS region name (like us-east-1, us-gov-west-1)")
    return value


def _one_of(choices: Sequence[str], what: str) -> Any:
    by_key = {choice.casefold(): choice for choice in choices}

    def check(value: str) -> str:
        found = by_key.get(value.strip().casefold())
        if found is None:
            raise ValueError(f"{value!r} is not {what}; use one of: {', '.join(choices)}")
        return found

    return check


AccountId = Annotated[str, AfterValidator(_account_id)]
Region = Annotated[str, AfterValidator(_region)]
State = Annotated[str, AfterValidator(_one_of(STATES, "an EC2 instance state"))]
PlatformName = Annotated[str, AfterValidator(_one_of(PLATFORMS, "a platform"))]
PingStatusName = Annotated[str, AfterValidator(_one_of(PING_STATUSES, "an SSM ping status"))]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


class TagFilter(BaseModel):
    """Instances that carry the tag ``key`` (with ``value``, when it is not ``None``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=128)
    value: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        """``key=value``, or ``key`` when any value will do (the query-string form)."""
        return self.key if self.value is None else f"{self.key}={self.value}"


class InventoryFilter(BaseModel):
    """Which instances to show or target. Every list is "any of these" and an empty one
    does not filter; the fields together are "all of these" (tags too: every tag listed).

    ``search`` is a case-insensitive substring of the instance's name or id.
    """

    model_config = ConfigDict(extra="forbid")

    account_ids: list[AccountId] = Field(default_factory=list, max_length=1000)
    regions: list[Region] = Field(default_factory=list, max_length=100)
    states: list[State] = Field(default_factory=list, max_length=len(STATES))
    platforms: list[PlatformName] = Field(default_factory=list, max_length=len(PLATFORMS))
    ping_statuses: list[PingStatusName] = Field(default_factory=list, max_length=len(PING_STATUSES))
    tags: list[TagFilter] = Field(default_factory=list, max_length=20)
    search: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _normalised(self) -> InventoryFilter:
        # Without repeats, so that equal filters compare and serialise equal.
        for name in ("account_ids", "regions", "states", "platforms", "ping_statuses", "tags"):
            setattr(self, name, _unique(getattr(self, name)))
        self.search = self.search.strip()
        return self

    @property
    def is_empty(self) -> bool:
        """Whether it matches every instance."""
        return not any(
            (
                self.account_ids,
                self.regions,
                self.states,
                self.platforms,
                self.ping_statuses,
                self.tags,
                self.search,
            )
        )

    def to_json(self) -> dict[str, Any]:
        """The filter as plain data (what saved filters and executions store)."""
        return self.model_dump(mode="json")


#: Query-string parameter → filter field. Lists repeat the parameter
#: (``?state=running&state=stopped``); a tag is ``tag=key=value`` or ``tag=key``.
QUERY_PARAMETERS: dict[str, str] = {
    "account_id": "account_ids",
    "region": "regions",
    "state": "states",
    "platform": "platforms",
    "ping_status": "ping_statuses",
    "tag": "tags",
    "q": "search",
}
_FIELD_PARAMETERS = {field: parameter for parameter, field in QUERY_PARAMETERS.items()}


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def _path(location: Sequence[Any]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_filter(data: Any, *, field: str = "") -> InventoryFilter:
    """An :class:`InventoryFilter` from plain data (a JSON object).

    :param field: prefix of the field names in errors (``filter`` gives
        ``filter.account_ids[0]``).
    :raises InvalidInput: naming each bad field.
    """
    if isinstance(data, InventoryFilter):
        return data
    try:
        return InventoryFilter.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = _path(error["loc"])
            full = f"{field}.{path}" if field and path else (field or path or "filter")
            problems.append((full, _message(error)))
        raise InvalidInput(problems) from None


def _split_tag(text: str) -> dict[str, str | None]:
    key, separator, value = text.partition("=")
    return {"key": key.strip(), "value": value if separator else None}


def filter_from_query(params: Mapping[str, Sequence[str]], *, prefix: str = "") -> InventoryFilter:
    """An :class:`InventoryFilter` from query-string parameters (:data:`QUERY_PARAMETERS`),
    each possibly repeated, optionally prefixed (``f_state=running`` with ``prefix="f_"``).
    Empty values are ignored.

    :raises InvalidInput: naming the parameter (``state``, ``f_tag``...) and the bad value.
    """
    data: dict[str, Any] = {}
    for parameter, field in QUERY_PARAMETERS.items():
        values = [v for v in params.get(prefix + parameter, ()) if v is not None and v.strip()]
        if not values:
            continue
        if field == "search":
            data[field] = values[-1]
        elif field == "tags":
            data[field] = [_split_tag(value) for value in values]
        else:
            data[field] = values
    try:
        return InventoryFilter.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = error["loc"]
            parameter = prefix + _FIELD_PARAMETERS.get(str(location[0]), str(location[0]))
            message = _message(error)
            if location[0] == "tags" and len(location) > 2 and location[2] == "key":
                message = f"a tag filter is 'key=value' or 'key'; the key {message}"
            problems.append((parameter, message))
        raise InvalidInput(problems) from None


def filter_to_query(flt: InventoryFilter, *, prefix: str = "") -> list[tuple[str, str]]:
    """The query-string parameters that :func:`filter_from_query` reads back as ``flt``."""
    pairs: list[tuple[str, str]] = []
    for parameter, field in QUERY_PARAMETERS.items():
        value = getattr(flt, field)
        if field == "search":
            if value:
                pairs.append((prefix + parameter, value))
        elif field == "tags":
            pairs += [(prefix + parameter, tag.text()) for tag in value]
        else:
            pairs += [(prefix + parameter, item) for item in value]
    return pairs


def clean_account_regions(
    pairs: Iterable[Sequence[str]], *, field: str = "account_regions"
) -> list[tuple[str, str]]:
    """Account-region pairs checked (12-digit account, region name) and without repeats.

    :raises InvalidInput: naming ``account_regions[i]`` for each bad pair.
    """
    cleaned: list[tuple[str, str]] = []
    problems: list[tuple[str, str]] = []
    for index, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2:
            problems.append((f"{field}[{index}]", "give an account id and a region"))
            continue
        for part, check in ((0, _account_id), (1, _region)):
            try:
                check(str(pair[part]))
            except ValueError as exc:
                name = "account_id" if part == 0 else "region"
                problems.append((f"{field}[{index}].{name}", str(exc)))
        cleaned.append((str(pair[0]).strip(), str(pair[1]).strip().lower()))
    if problems:
        raise InvalidInput(problems)
    return list(dict.fromkeys(cleaned))


# -------------------------------------------------------------------------------------------
# Queries
# -------------------------------------------------------------------------------------------

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
    found: dict[str, AwsSrInstance] = {}
    wanted = list(dict.fromkeys(instance_ids))
    for start in range(0, len(wanted), 500):  # SQLite limits the parameters of a statement
        chunk = wanted[start : start + 500]
        statement = (
            select(AwsSrInstance)
            .where(col(AwsSrInstance.instance_id).in_(chunk))
            .order_by(*_TIE_BREAKERS)
        )
        for row in (await session.exec(statement)).all():
            found.setdefault(row.instance_id, row)
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


# -------------------------------------------------------------------------------------------
# Sync state
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRegionStatus:
    """How fresh one account-region's rows are.

    ``status`` is ``ok`` or ``error`` (the last attempt's outcome), ``running`` during one,
    or ``never`` for an account-region of the registry that was never synced.
    """

    account_id: str
    region: str
    status: str
    error: str = ""
    instance_count: int = 0
    job_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_success_at: datetime | None = None


@dataclass(frozen=True)
class InventoryStatus:
    """The sync state of the whole inventory."""

    account_regions: list[AccountRegionStatus]

    @property
    def last_synced_at(self) -> datetime | None:
        """When a sync of some account-region last succeeded."""
        times = [s.last_success_at for s in self.account_regions if s.last_success_at]
        return max(times) if times else None

    @property
    def oldest_success_at(self) -> datetime | None:
        """The least fresh account-region's last success (``None`` if one never succeeded):
        no row of the inventory is older than this."""
        times = [s.last_success_at for s in self.account_regions]
        if not times or any(time is None for time in times):
            return None
        return min(time for time in times if time is not None)

    @property
    def errors(self) -> list[AccountRegionStatus]:
        """The account-regions whose last sync failed."""
        return [s for s in self.account_regions if s.status == SyncStatus.ERROR]

    @property
    def running(self) -> bool:
        return any(s.status == SyncStatus.RUNNING for s in self.account_regions)

    @property
    def instance_count(self) -> int:
        return sum(s.instance_count for s in self.account_regions)


async def inventory_status(
    session: AsyncSession, expected: Iterable[tuple[str, str]] | None = None
) -> InventoryStatus:
    """Every account-region's sync state, by account and region.

    :param expected: the account-regions of the accounts registry; those never synced are
        listed with status ``never``.
    """
    statement = select(AwsSrInventorySync).order_by(
        col(AwsSrInventorySync.account_id), col(AwsSrInventorySync.region)
    )
    rows = {(row.account_id, row.region): row for row in (await session.exec(statement)).all()}
    found = [
        AccountRegionStatus(
            account_id=row.account_id,
            region=row.region,
            status=row.status,
            error=row.error,
            instance_count=row.instance_count,
            job_id=row.job_id,
            started_at=row.started_at,
            finished_at=row.finished_at,
            last_success_at=row.last_success_at,
        )
        for row in rows.values()
    ]
    for account_id, region in dict.fromkeys(expected or ()):
        if (account_id, region) not in rows:
            found.append(AccountRegionStatus(account_id, region, "never"))
    found.sort(key=lambda s: (s.account_id, s.region))
    return InventoryStatus(found)


async def enqueue_sync(
    *, account_regions: list[tuple[str, str]] | None = None, requested_by: str
) -> str:
    """Queue an inventory sync; return its job id (follow it at ``/api/jobs/<id>``).

    Needs the job engine of a server or worker (it raises ``pcm_ops.jobs.JobsError``
    elsewhere).

    :param account_regions: ``[("123456789012", "eu-west-1"), ...]``; ``None``: every
        account of the accounts registry in each of its regions (and the rows of
        account-regions no longer in the registry are removed).
    :param requested_by: who asked (a username, ``scheduler``, ``cli:<user>``); it names
        the AWS role sessions.
    :raises InvalidInput: a bad or empty ``account_regions``.
    """
    from pcm_ops.jobs import enqueue_async

    pairs: list[list[str]] | None = None
    if account_regions is not None:
        cleaned = clean_account_regions(account_regions)
        if not cleaned:
            raise InvalidInput(
                [("account_regions", "name at least one, or leave it out to sync everything")]
            )
        pairs = [list(pair) for pair in cleaned]
    return await enqueue_async(SYNC_WORKFLOW, pairs, requested_by, queue=INVENTORY_QUEUE)


async def request_sync(
    session: AsyncSession,
    actor: Actor,
    *,
    account_regions: list[tuple[str, str]] | None = None,
) -> str:
    """Queue a sync that someone asked for (API, page) and audit it in ``session``
    (``aws-script-runner.inventory.sync``); return its job id. Raises as
    :func:`enqueue_sync`."""
    job_id = await enqueue_sync(account_regions=account_regions, requested_by=actor.name)
    chosen = [f"{a}:{r}" for a, r in account_regions] if account_regions else "all"
    await audit.record(
        session,
        actor.request,
        INVENTORY_SYNC_ACTION,
        object_type="inventory",
        object_id=job_id,
        details={"account_regions": chosen},
        principal=actor.principal,
        actor=actor.name,
    )
    return job_id


# -------------------------------------------------------------------------------------------
# Saved filters
# -------------------------------------------------------------------------------------------


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: AwsSrSavedFilter,
    details: Mapping[str, Any],
) -> None:
    await audit.record(
        session,
        actor.request,
        f"{SAVED_FILTER_ACTION}.{action}",
        object_type="saved_filter",
        object_id=str(row.id),
        details=dict(details),
        principal=actor.principal,
        actor=actor.name,
    )


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput([("name", "must not be empty")])
    if len(cleaned) > 100:
        raise InvalidInput([("name", "must be at most 100 characters")])
    return cleaned


def _clean_description(description: str) -> str:
    if len(description) > 1000:
        raise InvalidInput([("description", "must be at most 1000 characters")])
    return description.strip()


async def _check_name_free(session: AsyncSession, name: str, exclude_id: int | None = None) -> None:
    statement = select(AwsSrSavedFilter).where(AwsSrSavedFilter.name_key == name.casefold())
    found = (await session.exec(statement)).first()
    if found is not None and found.id != exclude_id:
        raise Conflict(f"a saved filter named {found.name!r} exists already; choose another name")


async def list_saved_filters(session: AsyncSession) -> list[AwsSrSavedFilter]:
    """Saved filters by name (any case)."""
    statement = select(AwsSrSavedFilter).order_by(col(AwsSrSavedFilter.name_key))
    return list((await session.exec(statement)).all())


async def get_saved_filter(session: AsyncSession, filter_id: int) -> AwsSrSavedFilter:
    """:raises NotFound: no saved filter has this id."""
    row = await session.get(AwsSrSavedFilter, filter_id)
    if row is None:
        raise NotFound(f"there is no saved filter with id {filter_id}")
    return row


def saved_filter_of(row: AwsSrSavedFilter) -> InventoryFilter:
    """The filter a saved filter holds."""
    return parse_filter(row.filter, field="filter")


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        # Another request took the name between the check and the write.
        raise Conflict(
            f"a saved filter named {name!r} exists already; choose another name"
        ) from None


async def create_saved_filter(
    session: AsyncSession,
    name: str,
    flt: InventoryFilter,
    actor: Actor,
    *,
    description: str = "",
) -> AwsSrSavedFilter:
    """Save ``flt`` under ``name`` (unique regardless of case).

    :raises InvalidInput: an empty or too long name or description.
    :raises Conflict: the name is taken.
    """
    cleaned = _clean_name(name)
    text = _clean_description(description)
    await _check_name_free(session, cleaned)
    row = AwsSrSavedFilter(
        name=cleaned,
        name_key=cleaned.casefold(),
        description=text,
        filter=flt.to_json(),
        created_by=actor.name,
    )
    session.add(row)
    await _flush(session, cleaned)
    await _audit(session, actor, "create", row, {"name": row.name, "filter": row.filter})
    return row


async def update_saved_filter(
    session: AsyncSession,
    filter_id: int,
    actor: Actor,
    *,
    name: str | None = None,
    description: str | None = None,
    flt: InventoryFilter | None = None,
) -> AwsSrSavedFilter:
    """Change what is given (``None`` keeps it).

    :raises NotFound: no such saved filter.
    :raises InvalidInput: an empty or too long name or description.
    :raises Conflict: the new name is taken.
    """
    row = await get_saved_filter(session, filter_id)
    changed: dict[str, Any] = {}
    if name is not None:
        cleaned = _clean_name(name)
        if cleaned != row.name:
            await _check_name_free(session, cleaned, exclude_id=row.id)
            changed["name"] = {"before": row.name, "after": cleaned}
            row.name, row.name_key = cleaned, cleaned.casefold()
    if description is not None:
        text = _clean_description(description)
        if text != row.description:
            changed["description"] = True
            row.description = text
    if flt is not None and flt.to_json() != row.filter:
        changed["filter"] = {"before": row.filter, "after": flt.to_json()}
        row.filter = flt.to_json()
    if changed:
        row.updated_at = utcnow()
        session.add(row)
        await _flush(session, row.name)
        await _audit(session, actor, "update", row, {"name": row.name, "changed": changed})
    return row


async def delete_saved_filter(session: AsyncSession, filter_id: int, actor: Actor) -> None:
    """:raises NotFound: no such saved filter."""
    row = await get_saved_filter(session, filter_id)
    await _audit(session, actor, "delete", row, {"name": row.name, "filter": row.filter})
    await session.exec(delete(AwsSrSavedFilter).where(col(AwsSrSavedFilter.id) == filter_id))
