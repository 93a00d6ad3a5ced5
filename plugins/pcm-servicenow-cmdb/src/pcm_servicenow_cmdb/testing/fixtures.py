"""The ``pcm_servicenow_cmdb`` pytest plugin: the ServiceNow fake and its fixtures
(written next)."""
