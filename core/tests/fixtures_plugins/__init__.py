"""Tiny plugin modules for core's tests, each with one trait the tests look for.

Tests load them through ``importlib.metadata.EntryPoint`` objects (see the
``fixture_plugins`` fixture in ``core/tests/conftest.py``), never by installing them; the
entry-point name is the module name with dashes for underscores.
"""
