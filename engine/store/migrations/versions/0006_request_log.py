"""The request log in the store, for replicas on PostgreSQL: every replica writes its entries
here, so the admin API and the homepage of any replica show all of them. (A portal on SQLite
keeps its request log in its own file, `settings.request_log_path`; the table stays empty.)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import LOG_ID, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_log",
        sa.Column("id", LOG_ID, autoincrement=True, nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("portal", sa.Text(), nullable=False),
        sa.Column(
            "user", sa.Text(), nullable=True, comment="who called, as the request log names them"
        ),
        sa.Column(
            "kind", sa.String(length=16), nullable=False, comment="tool_call | code_run | ..."
        ),
        sa.Column("status", sa.String(length=8), nullable=False, comment="ok | error"),
        sa.Column("server", sa.Text(), nullable=True),
        sa.Column(
            "capability", sa.Text(), nullable=False, comment="tool name, code/execute, or URI"
        ),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True, comment="short cause of a failure"),
        sa.Column(
            "dlp", sa.Text(), nullable=True, comment="DLP findings as JSON, never matched text"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_log")),
    )
    op.create_index(
        op.f("ix_request_log_portal_time"), "request_log", ["portal", "time"], unique=False
    )
    op.create_index(
        op.f("ix_request_log_server_time"), "request_log", ["server", "time"], unique=False
    )
    op.create_index(op.f("ix_request_log_time"), "request_log", ["time"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_request_log_time"), table_name="request_log")
    op.drop_index(op.f("ix_request_log_server_time"), table_name="request_log")
    op.drop_index(op.f("ix_request_log_portal_time"), table_name="request_log")
    op.drop_table("request_log")
