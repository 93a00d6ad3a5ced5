"""Small plugins that implement the script runner's hooks, for its tests. Each module is a
plugin; ``hook_plugins`` in ``conftest.py`` makes entry points for them."""
