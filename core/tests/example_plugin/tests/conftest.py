"""Every test here loads the example plugin (and no other installed plugin)."""

import pytest


@pytest.fixture
def pcm_plugins():
    return ["example"]
