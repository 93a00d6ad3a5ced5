"""The plugin's logic, with no FastAPI in it: connections, changes and CIs, gating."""
