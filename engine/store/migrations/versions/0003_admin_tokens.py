"""Named admin tokens for the admin API (`codemode admin-token create NAME [--write]`), each
with `read` or `write` permission, stored as SHA-256 hex digests only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-02-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "name",
            sa.String(length=64),
            nullable=False,
            comment="who the token is (created_by etc.)",
        ),
        sa.Column(
            "sha256", sa.String(length=64), nullable=False, comment="SHA-256 hex of the token"
        ),
        sa.Column("permission", sa.String(length=16), nullable=False, comment="read | write"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_admin_tokens_name")),
        sa.UniqueConstraint("sha256", name=op.f("uq_admin_tokens_sha256")),
    )


def downgrade() -> None:
    op.drop_table("admin_tokens")
