"""pcm-example-plugin: the reference PCM-Ops plugin (a small notes tool).

The entry point ``example = "pcm_example.plugin"`` names :mod:`pcm_example.plugin`; the
rest of the package is imported only when a hook needs it.
"""

__version__ = "0.1.0"
