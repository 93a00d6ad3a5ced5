"""PCM-Ops's one Alembic environment, over core's version directory and every loaded plugin's.

It is run by :mod:`pcm_ops.db.migrations` (``pcm-ops db ...``), which builds the Alembic
``Config`` in code and passes, through ``config.attributes``, an open connection and what
autogenerate compares against. There is no ``alembic.ini``; run ``pcm-ops db``, not
``alembic``.
"""

from __future__ import annotations

from alembic import context

from pcm_ops.db.migrations import render_item

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "this Alembic environment runs only through `pcm-ops db ...` (online, with a "
        "connection); it has no alembic.ini of its own"
    )

context.configure(
    connection=connection,
    target_metadata=config.attributes.get("target_metadata"),
    include_object=config.attributes.get("include_object"),
    process_revision_directives=config.attributes.get("process_revision_directives"),
    render_item=render_item,
    # SQLite cannot ALTER most things in place; batch operations copy the table there and
    # are plain ALTERs on PostgreSQL. Rendering them always keeps every generated revision
    # runnable on both databases, whichever one it was generated against.
    render_as_batch=True,
    compare_type=True,
)

with context.begin_transaction():
    context.run_migrations()
