"""Hooks that the example plugin offers to other plugins.

Another plugin implements one with ``@hookimpl(optionalhook=True)`` (so that it still loads
when this plugin is absent); this plugin calls it through
``registry.manager.hook.example_greeting(name=...)``.
"""

from __future__ import annotations

from pcm_ops import hookspec


@hookspec
def example_greeting(name: str) -> str | None:
    """Return a greeting for ``name``, shown by ``GET /api/tools/example/notes/greetings``.

    Called once per request of that endpoint, on every plugin that implements it, in id
    order; ``None`` results are left out.

    :param name: who to greet.
    :return: one line of text, or ``None``.

    Example::

        @hookimpl(optionalhook=True)
        def example_greeting(name):
            return f"Good morning, {name}."
    """
