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
