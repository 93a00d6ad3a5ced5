"""Listing the script library a page at a time: by key (``after``) or offset, with the tag
filter applied across pages of the database, never to every row at once."""

from __future__ import annotations

from sqlalchemy import insert

from pcm_aws_script_runner.models import AwsSrScript
from pcm_aws_script_runner.services.scripts import SCRIPTS_PAGE, list_scripts


async def _library(database, count: int) -> None:
    rows = [
        {
            "name": f"script-{number:04d}",
            "name_key": f"script-{number:04d}",
            "description": "",
            "language": "shell",
            "tags": ["ops"] if number % 3 == 0 else ["dev"],
            "current_version": 1,
            "current_sha256": "0" * 64,
            "archived": False,
            "created_by": "test",
            "updated_by": "test",
        }
        for number in range(count)
    ]
    async with database.session() as session:
        await (await session.connection()).execute(insert(AwsSrScript), rows)


async def test_pages_by_key_follow_each_other_in_name_order(pcm_migrated_database):
    await _library(pcm_migrated_database, 25)

    async with pcm_migrated_database.session() as session:
        first = await list_scripts(session, limit=10)
        second = await list_scripts(session, limit=10, after=first[-1].name_key)
        by_offset = await list_scripts(session, limit=10, offset=10)

    assert [s.name for s in first] == [f"script-{n:04d}" for n in range(10)]
    assert [s.name for s in second] == [f"script-{n:04d}" for n in range(10, 20)]
    assert [s.id for s in by_offset] == [s.id for s in second]


async def test_the_tag_filter_reads_the_library_a_page_at_a_time(pcm_migrated_database):
    total = SCRIPTS_PAGE * 3 + 7
    await _library(pcm_migrated_database, total)
    tagged = [f"script-{n:04d}" for n in range(total) if n % 3 == 0]

    async with pcm_migrated_database.session() as session:
        page = await list_scripts(session, tag="ops", limit=5, offset=SCRIPTS_PAGE // 3 + 2)
        every = await list_scripts(session, tag="OPS", limit=10_000)
        next_page = await list_scripts(session, tag="ops", limit=3, after=every[9].name_key)

    assert [s.name for s in page] == tagged[SCRIPTS_PAGE // 3 + 2 :][:5]
    assert [s.name for s in every] == tagged
    assert [s.name for s in next_page] == tagged[10:13]


async def test_a_first_page_does_not_load_the_whole_library(pcm_migrated_database):
    await _library(pcm_migrated_database, SCRIPTS_PAGE * 2)
    loaded: list[int] = []

    async with pcm_migrated_database.session() as session:
        from sqlalchemy import event as sa_event

        def on_load(target, context):
            loaded.append(1)

        sa_event.listen(AwsSrScript, "load", on_load)
        try:
            await list_scripts(session, limit=10)
            untagged = len(loaded)
            await list_scripts(session, tag="ops", limit=10)
        finally:
            sa_event.remove(AwsSrScript, "load", on_load)

    assert untagged == 10  # ORM objects built: the page, not the library
    assert len(loaded) - untagged <= SCRIPTS_PAGE  # one page of the library read for 10 tagged
