"""Execution workflows (being written)."""
