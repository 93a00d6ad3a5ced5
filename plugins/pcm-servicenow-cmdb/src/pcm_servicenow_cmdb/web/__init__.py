"""The plugin's pages, mounted under ``/tools/servicenow/cmdb``."""
