"""Inventory sync workflows (being written)."""
