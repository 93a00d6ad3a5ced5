"""The plugin's names: its id, permissions, queues, workflows and event streams.

One definition of each, imported by the hooks, the API, the pages, the services and the
jobs. Standard library only: importing it costs nothing at discovery. Workflow names are
recorded in the job engine's database, so they never change.
"""

from __future__ import annotations

#: The plugin id: the entry point's name, the settings section, the templates folder.
PLUGIN_ID = "aws-script-runner"
#: The provider and tool segments of its URLs.
PROVIDER = "aws"
TOOL = "script-runner"
#: Where core mounts its pages and its JSON API (``PluginMetadata.page_prefix`` and
#: ``api_prefix``; a test checks they agree).
PAGE_PREFIX = f"/tools/{PROVIDER}/{TOOL}"
API_PREFIX = f"/api/tools/{PROVIDER}/{TOOL}"

#: See scripts, their versions and diffs, the fleet, executions and their output.
READ = f"{PLUGIN_ID}:read"
#: Run scripts and cancel runs.
EXECUTE = f"{PLUGIN_ID}:execute"
#: Create, edit, archive and unarchive scripts.
MANAGE_SCRIPTS = f"{PLUGIN_ID}:scripts.manage"

#: Executions: each one is a workflow that sends its batches and follows their results.
EXECUTIONS_QUEUE = f"{PLUGIN_ID}.executions"
#: Inventory syncs (on demand and scheduled).
INVENTORY_QUEUE = f"{PLUGIN_ID}.inventory"

#: The workflow of one execution (:mod:`pcm_aws_script_runner.jobs.executions`).
EXECUTION_WORKFLOW = f"{PLUGIN_ID}.execute"
#: The workflow of an inventory sync (:mod:`pcm_aws_script_runner.jobs.inventory`).
SYNC_WORKFLOW = f"{PLUGIN_ID}.inventory_sync"
#: The scheduled inventory sync (its jobs: ``sched-aws-script-runner:inventory-sync-<time>``).
INVENTORY_SCHEDULE = "inventory-sync"
INVENTORY_SCHEDULED_WORKFLOW = f"{PLUGIN_ID}.inventory_sync_scheduled"

#: Audit log actions.
SCRIPT_ACTION = f"{PLUGIN_ID}.script"
SAVED_FILTER_ACTION = f"{PLUGIN_ID}.saved_filter"
EXECUTION_START_ACTION = f"{PLUGIN_ID}.execution.start"
EXECUTION_CANCEL_ACTION = f"{PLUGIN_ID}.execution.cancel"
INVENTORY_SYNC_ACTION = f"{PLUGIN_ID}.inventory.sync"


def execution_stream(execution_id: int) -> str:
    """The event stream of execution ``execution_id``."""
    return f"{PLUGIN_ID}:execution:{execution_id}"
