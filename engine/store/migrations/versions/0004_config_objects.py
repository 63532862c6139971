"""Portals and servers in the store (`[admin] config = "store"`): one row per object as JSON,
its secrets AES-GCM encrypted, who created and last changed it; and the audit log of writes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_objects",
        sa.Column("kind", sa.String(length=16), nullable=False, comment="server | portal"),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, comment="order in the config"),
        sa.Column(
            "body_json", sa.Text(), nullable=False, comment="the config entry as JSON, no secret"
        ),
        sa.Column("secrets_enc", sa.Text(), nullable=True, comment="AES-GCM, engine.store.secrets"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column(
            "created_by",
            sa.String(length=64),
            nullable=False,
            comment="admin token name, or seed/import",
        ),
        sa.Column("modified_at", UTCDateTime(), nullable=False),
        sa.Column("modified_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name=op.f("pk_config_objects")),
    )
    op.create_table(
        "config_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column(
            "by", sa.String(length=64), nullable=False, comment="admin token name, or seed/import"
        ),
        sa.Column(
            "action",
            sa.String(length=16),
            nullable=False,
            comment="create | update | delete | seed | ...",
        ),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="server | portal | config"),
        sa.Column("object_id", sa.String(length=32), nullable=False),
        sa.Column(
            "changes_json",
            sa.Text(),
            nullable=False,
            comment="field: [before, after]; no secret",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_audit")),
    )
    op.create_index(op.f("ix_config_audit_at"), "config_audit", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_config_audit_at"), table_name="config_audit")
    op.drop_table("config_audit")
    op.drop_table("config_objects")
