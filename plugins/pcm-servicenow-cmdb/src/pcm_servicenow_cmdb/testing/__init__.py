"""Test support: a ServiceNow fake (written next)."""
