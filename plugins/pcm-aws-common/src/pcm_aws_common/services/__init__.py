"""The plugin's logic, with no FastAPI in it: the API, the pages, the CLI and other plugins'
workers use the same functions."""
