"""Alembic's environment: runs on the connection `engine.store.db.migrate` passes in
`config.attributes["connection"]`, inside its locked transaction."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from engine.store.schema import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("engine.store migrations run through engine.store.db.migrate")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
