"""An execution's detail stays the same size however many instances it has; its batches and
instances are read a page at a time with keyset paging (``after``)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.pcm_plugins("aws-common", "aws-script-runner")

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def _pages(fleet, path: str, limit: int) -> list[list[dict]]:
    pages, params = [], {"limit": limit}
    while True:
        response = await fleet.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        if body["next_after"] is None:
            return pages
        params["after"] = body["next_after"]


@SQLITE_ONLY
async def test_the_detail_has_batch_counts_and_links_not_one_row_per_batch(make_fleet):
    fleet = await make_fleet(us_east_1=60, us_west_2=60)  # 4 batches of up to 50
    half = fleet.instances["us-east-1"][:30] + fleet.instances["us-west-2"][:30]

    sizes = []
    for ids in (half, fleet.all_ids()):
        execution = await fleet.start(targets={"instance_ids": ids})
        await fleet.wait(execution["id"])
        response = await fleet.get(f"/executions/{execution['id']}")
        detail = response.json()
        sizes.append(len(response.content))

        assert "batches" not in detail
        assert detail["batches_url"].endswith(f"/executions/{execution['id']}/batches")
        assert detail["targets_url"].endswith(f"/executions/{execution['id']}/targets")
        assert detail["events_url"].endswith(f"/executions/{execution['id']}/events")
        # The second execution's links come from the pattern found for the first.
        assert detail["batches_url"].startswith("/api/")
        assert sum(detail["batch_counts"].values()) == len(await fleet.batches(execution["id"]))
    assert detail["batch_counts"] == {"finished": 4}
    # The same account-regions and statuses: 120 instances (4 batches) make no longer a
    # detail than 60 (2 batches), give or take the digits of counts and ids.
    assert sizes[1] <= sizes[0] + 10


@SQLITE_ONLY
async def test_targets_are_paged_by_key_in_account_region_instance_order(make_fleet):
    fleet = await make_fleet(us_east_1=7, eu_west_1=6)
    execution = await fleet.start()
    await fleet.wait(execution["id"])

    pages = await _pages(fleet, f"/executions/{execution['id']}/targets", limit=5)

    assert [len(page) for page in pages] == [5, 5, 3]
    keys = [(t["account_id"], t["region"], t["instance_id"]) for page in pages for t in page]
    assert keys == sorted(keys)
    assert sorted(k[2] for k in keys) == sorted(fleet.all_ids())


@SQLITE_ONLY
async def test_batches_are_paged_by_number(make_fleet):
    fleet = await make_fleet(us_east_1=3, us_west_2=3, eu_west_1=3)
    execution = await fleet.start(max_concurrency="2")  # batches of 2: 6 of them
    await fleet.wait(execution["id"])

    pages = await _pages(fleet, f"/executions/{execution['id']}/batches", limit=4)

    assert [[b["number"] for b in page] for page in pages] == [[1, 2, 3, 4], [5, 6]]
    assert sum(b["instances"] for page in pages for b in page) == 9


@SQLITE_ONLY
async def test_a_wrong_page_key_is_a_422_naming_after(make_fleet):
    fleet = await make_fleet(us_east_1=1)
    execution = await fleet.start()

    targets = await fleet.get(f"/executions/{execution['id']}/targets", params={"after": "x"})
    batches = await fleet.get(f"/executions/{execution['id']}/batches", params={"after": "x"})

    assert targets.status_code == 422, targets.text
    assert "after" in targets.text
    assert batches.status_code == 422, batches.text
    assert "after" in batches.text
    await fleet.wait(execution["id"])
