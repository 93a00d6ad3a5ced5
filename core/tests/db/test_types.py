"""UTCDateTime: naive UTC in the column, aware UTC in Python, SQLite's own text format."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pcm_ops.db.types import UTCDateTime

VALUES = [
    datetime(2026, 12, 5, 7, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 5, 7, 0, 0, tzinfo=UTC),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2026, 12, 5, 9, 30, tzinfo=timezone(timedelta(hours=2, minutes=30))),
    datetime(2026, 12, 5, 7, 0, 0, 5),  # naive: taken as UTC
]


@pytest.mark.parametrize("value", VALUES, ids=str)
def test_sqlite_gets_the_text_sqlalchemys_datetime_writes(value):
    dialect = sqlite.dialect()
    ours = UTCDateTime()._cached_bind_processor(dialect)
    theirs = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    as_utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

    assert ours(value) == theirs(as_utc)
    assert ours(None) is None


def test_a_date_is_still_written_by_sqlalchemy():
    dialect = sqlite.dialect()
    impl = UTCDateTime().dialect_impl(dialect).impl_instance.dialect_impl(dialect)
    assert impl.bind_processor(dialect)(date(2026, 12, 5)) == "2026-12-05 00:00:00.000000"


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_the_column_type_is_unchanged(dialect):
    table = sa.Table("t", sa.MetaData(), sa.Column("at", UTCDateTime))
    ddl = str(sa.schema.CreateTable(table).compile(dialect=dialect))
    expected = "DATETIME" if dialect.name == "sqlite" else "TIMESTAMP WITHOUT TIME ZONE"
    assert f"at {expected}" in ddl


async def test_values_round_trip_through_sqlite_aware_and_in_order(tmp_path):
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'types.db'}")
    table = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime),
    )
    try:
        async with engine.begin() as connection:
            await connection.run_sync(table.metadata.create_all)
            await connection.execute(
                table.insert(), [{"id": n, "at": v} for n, v in enumerate(VALUES)]
            )
            read = (
                (await connection.execute(sa.select(table.c.at).order_by(table.c.at)))
                .scalars()
                .all()
            )
            later = (
                await connection.execute(sa.select(sa.func.count()).where(table.c.at > VALUES[1]))
            ).scalar_one()
    finally:
        await engine.dispose()

    expected = sorted(v if v.tzinfo else v.replace(tzinfo=UTC) for v in VALUES)
    assert read == expected
    assert all(v.tzinfo is UTC for v in read)
    assert later == sum(1 for v in expected if v > VALUES[1])
