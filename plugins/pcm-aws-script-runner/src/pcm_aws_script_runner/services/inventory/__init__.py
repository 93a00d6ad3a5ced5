"""The fleet inventory as the rest of the plugin reads it, one module per concern:

- :mod:`.filters`: what a filter may name, its validation, its query-parameter and JSON
  forms (:class:`InventoryFilter`, :func:`filter_from_query`, :func:`parse_filter`);
- :mod:`.queries`: instances matching a filter, sorted and paged, and by id;
- :mod:`.saved_filters`: named filters, changed with an audit event;
- :mod:`.sync_state`: each account-region's sync state, and starting a sync;
- :mod:`.sync_writes`: writing what a sync read from AWS (used by the sync job).

Browsing never waits on AWS: everything here reads the tables a sync job fills
(:mod:`pcm_aws_script_runner.jobs.inventory`). An execution that targets "every instance
matching" resolves its filter when it runs (:func:`matching_instances`).
"""

from __future__ import annotations

from pcm_aws_script_runner.services.inventory.filters import (
    PING_STATUSES,
    PLATFORMS,
    QUERY_PARAMETERS,
    STATES,
    InventoryFilter,
    TagFilter,
    clean_account_regions,
    filter_from_query,
    filter_to_query,
    parse_filter,
)
from pcm_aws_script_runner.services.inventory.queries import (
    SORTS,
    count_instances,
    get_instance,
    instance_rows_by_ids,
    instances_by_ids,
    matching_instances,
    query_instances,
)
from pcm_aws_script_runner.services.inventory.saved_filters import (
    create_saved_filter,
    delete_saved_filter,
    get_saved_filter,
    list_saved_filters,
    saved_filter_of,
    update_saved_filter,
)
from pcm_aws_script_runner.services.inventory.sync_state import (
    AccountRegionStatus,
    InventoryStatus,
    enqueue_sync,
    inventory_status,
    request_sync,
)

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
    "count_instances",
    "create_saved_filter",
    "delete_saved_filter",
    "enqueue_sync",
    "filter_from_query",
    "filter_to_query",
    "get_instance",
    "get_saved_filter",
    "instance_rows_by_ids",
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
