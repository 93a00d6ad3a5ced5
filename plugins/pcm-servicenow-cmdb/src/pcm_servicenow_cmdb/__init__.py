"""ServiceNow CMDB for PCM-Ops: change tickets, CMDB lookups, a change's servers as script
runner targets, and change-gated execution."""

__version__ = "0.1.0"
