"""The plugin's tables. Every name starts with the table prefix ``aws_sr_``; the migrations in
``migrations/versions`` create them (``pcm-ops db check`` compares the two).

- :mod:`.scripts`: the script library and its immutable versions;
- :mod:`.inventory`: the fleet inventory, its sync state and saved filters;
- :mod:`.executions`: executions, their ``SendCommand`` batches and per-instance results.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from pcm_aws_script_runner.models.executions import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
)
from pcm_aws_script_runner.models.inventory import (
    AwsSrInstance,
    AwsSrInstanceTag,
    AwsSrInventorySync,
    AwsSrSavedFilter,
)
from pcm_aws_script_runner.models.scripts import (
    AwsSrScript,
    AwsSrScriptVersion,
    ImmutableVersionError,
)

__all__ = [
    "MODELS",
    "AwsSrExecution",
    "AwsSrExecutionBatch",
    "AwsSrExecutionTarget",
    "AwsSrInstance",
    "AwsSrInstanceTag",
    "AwsSrInventorySync",
    "AwsSrSavedFilter",
    "AwsSrScript",
    "AwsSrScriptVersion",
    "ImmutableVersionError",
]

#: Every table of the plugin, in the order the ``pcm_ops_models`` hook gives them.
MODELS: list[type[SQLModel]] = [
    AwsSrScript,
    AwsSrScriptVersion,
    AwsSrInstance,
    AwsSrInstanceTag,
    AwsSrInventorySync,
    AwsSrSavedFilter,
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
]
