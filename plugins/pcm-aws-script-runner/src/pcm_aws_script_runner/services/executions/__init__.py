"""Executions: planning a run, starting it, cancelling it, rerunning it, and reading results.

An execution runs one script version, with validated parameter values, on many instances.
Each concern has its module; this package exports what the API, the pages and the CLI use:

- :mod:`.drafts`: what an operator asks to run (:class:`ExecutionDraft`), and drafts made
  from an earlier execution (:func:`clone_draft`, :func:`rerun_draft`);
- :mod:`.options`: rate control, timeouts and output options, validated;
- :mod:`.targets`: the five ways a draft names its instances, resolved;
- :mod:`.sources` and :mod:`.checks`: other plugins' target sources and pre-execution checks;
- :mod:`.planning`: the preview (:func:`plan_execution`);
- :mod:`.starting`: the plan recorded (:func:`start_execution`) and its workflow enqueued
  (:func:`launch`); the durable workflow of :mod:`pcm_aws_script_runner.jobs.executions`
  then sends the batches;
- :mod:`.queries`: reading executions, their instances and batches;
- :mod:`.lifecycle`: cancelling a running execution.

Nothing here talks to AWS: the preview comes from the inventory.
"""

from __future__ import annotations

from pcm_aws_script_runner.services.errors import Blocked
from pcm_aws_script_runner.services.executions.drafts import (
    ExecutionDraft,
    clone_draft,
    rerun_draft,
)
from pcm_aws_script_runner.services.executions.lifecycle import request_cancel
from pcm_aws_script_runner.services.executions.options import (
    DEFAULT_DELIVERY_TIMEOUT,
    DEFAULT_EXECUTION_TIMEOUT,
    absolute_limit,
    parse_limit,
)
from pcm_aws_script_runner.services.executions.planning import BATCH_SIZE, Plan, plan_execution
from pcm_aws_script_runner.services.executions.queries import (
    ExecutionQuery,
    TargetKey,
    batch_counts,
    batches_of,
    get_execution,
    list_executions,
    parse_target_key,
    target_key,
    target_key_text,
    targets_of,
)
from pcm_aws_script_runner.services.executions.starting import (
    comment_stamp,
    launch,
    start_execution,
)
from pcm_aws_script_runner.services.executions.targets import PlannedTarget

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_DELIVERY_TIMEOUT",
    "DEFAULT_EXECUTION_TIMEOUT",
    "Blocked",
    "ExecutionDraft",
    "ExecutionQuery",
    "Plan",
    "PlannedTarget",
    "TargetKey",
    "absolute_limit",
    "batch_counts",
    "batches_of",
    "clone_draft",
    "comment_stamp",
    "get_execution",
    "launch",
    "list_executions",
    "parse_limit",
    "parse_target_key",
    "plan_execution",
    "request_cancel",
    "rerun_draft",
    "start_execution",
    "target_key",
    "target_key_text",
    "targets_of",
]
