"""Alembic migrations of engine.store, run by `engine.store.db.migrate` (no alembic.ini).

A new migration: write `versions/NNNN_<what>.py` by hand after the last one (`down_revision`
names it), change `engine/store/schema.py` to match, and let
tests/store/test_migrations.py check the two agree. Use `op.batch_alter_table` to alter
columns (SQLite rebuilds the table)."""
