"""The plugin's names: its id, the permissions it defines and its audit actions.

One definition of each, imported by the hooks, the API and the pages. Standard library
only: importing it costs nothing at discovery.
"""

from __future__ import annotations

#: The plugin id: the entry point's name and the settings section.
PLUGIN_ID = "aws-common"

#: See partitions, credential sources (never their secrets), accounts and metrics.
READ = f"{PLUGIN_ID}:read"
#: Add, change and remove credential sources.
MANAGE_CREDENTIALS = f"{PLUGIN_ID}:credentials.manage"
#: Share credential sources with other users.
SHARE_CREDENTIALS = f"{PLUGIN_ID}:credentials.share"
#: Add, change, import and remove accounts.
MANAGE_ACCOUNTS = f"{PLUGIN_ID}:accounts.manage"

#: Audit actions on credential sources: ``.create``, ``.update``, ``.delete``, ``.refresh``.
CREDENTIALS_ACTION = f"{PLUGIN_ID}.credentials"
#: Audit actions on registry accounts: ``.create``, ``.update``, ``.delete``, ``.import``.
ACCOUNT_ACTION = f"{PLUGIN_ID}.account"
