"""The plugin's names, in one place: its id, permissions and table prefix."""

from __future__ import annotations

PLUGIN_ID = "servicenow-cmdb"
#: Every table of the plugin starts with it.
TABLE_PREFIX = "snow_"

#: Browse changes and CMDB items (every role).
READ = f"{PLUGIN_ID}:read"
#: Add, change, test and remove ServiceNow connections (admins).
MANAGE = f"{PLUGIN_ID}:connections.manage"

API = "/api/tools/servicenow/cmdb"
PAGES = "/tools/servicenow/cmdb"

#: Work notes back to changes: one job per note (:mod:`pcm_servicenow_cmdb.jobs`).
WORK_NOTES_QUEUE = f"{PLUGIN_ID}.work-notes"
#: The workflow that delivers one work note. Recorded in the job database: never renamed.
WORK_NOTE_WORKFLOW = f"{PLUGIN_ID}.work_note"
#: The script runner's target source this plugin supplies: a change's CIs as instances.
TARGET_SOURCE = "servicenow-change"
