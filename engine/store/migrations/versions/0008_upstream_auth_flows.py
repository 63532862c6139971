"""Upstream authorizations in progress (`upstream_auth_flows`), so the upstream's callback
may land on any replica; and, per upstream credential, when a person last connected it and
whether its refresh was refused (read by every replica instead of one process's memory).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upstream_oauth_states") as batch:
        batch.add_column(
            sa.Column(
                "connected_at",
                UTCDateTime(),
                nullable=True,
                comment="when a person last authorized (not refreshed) this credential",
            )
        )
        batch.add_column(
            sa.Column(
                "expired_at",
                UTCDateTime(),
                nullable=True,
                comment="when its refresh was refused (null: not expired)",
            )
        )
    op.create_table(
        "upstream_auth_flows",
        sa.Column("state_hash", sa.String(64), nullable=False, comment="SHA-256 hex of the state"),
        sa.Column("server_id", sa.String(255), nullable=False),
        sa.Column(
            "person_id",
            sa.Integer(),
            nullable=True,
            comment="null: the server's admin credential",
        ),
        sa.Column("return_to", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column(
            "claimed_at",
            UTCDateTime(),
            nullable=True,
            comment="the callback came (single use)",
        ),
        sa.Column(
            "callback_enc",
            sa.Text(),
            nullable=True,
            comment="AES-GCM, engine.store.secrets: the callback's code or error",
        ),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True, comment="why the flow failed; no secret"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name="fk_upstream_auth_flows_person_id_people",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name="pk_upstream_auth_flows"),
    )
    op.create_index(
        "ix_upstream_auth_flows_server_id_person_id",
        "upstream_auth_flows",
        ["server_id", "person_id"],
    )
    op.create_index("ix_upstream_auth_flows_expires_at", "upstream_auth_flows", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_upstream_auth_flows_expires_at", table_name="upstream_auth_flows")
    op.drop_index("ix_upstream_auth_flows_server_id_person_id", table_name="upstream_auth_flows")
    op.drop_table("upstream_auth_flows")
    with op.batch_alter_table("upstream_oauth_states") as batch:
        batch.drop_column("expired_at")
        batch.drop_column("connected_at")
