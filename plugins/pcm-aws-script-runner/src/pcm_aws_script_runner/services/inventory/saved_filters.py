"""Saved filters: named inventory filters an execution can target. Each change is written
with an audit event in the same transaction (``object_type`` ``saved_filter``; actions
``aws-script-runner.saved_filter.create`` / ``.update`` / ``.delete``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from pcm_aws_script_runner.ids import (
    SAVED_FILTER_ACTION,
)
from pcm_aws_script_runner.models import (
    AwsSrSavedFilter,
)
from pcm_aws_script_runner.services.errors import Conflict, InvalidInput, NotFound
from pcm_aws_script_runner.services.inventory.filters import InventoryFilter, parse_filter
from pcm_ops import audit
from pcm_ops.db.types import utcnow

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_ops.audit import Actor


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: AwsSrSavedFilter,
    details: Mapping[str, Any],
) -> None:
    await audit.record_by(
        session,
        actor,
        f"{SAVED_FILTER_ACTION}.{action}",
        object_type="saved_filter",
        object_id=str(row.id),
        details=dict(details),
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
