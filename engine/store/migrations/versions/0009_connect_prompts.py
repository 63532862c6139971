"""Which `on_behalf` servers of a portal each person was already shown or asked to connect,
so servers an admin adds later are asked about once, together (`engine.store.connect_prompts`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connect_prompts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("portal_id", sa.String(255), nullable=False),
        sa.Column("server_id", sa.String(255), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("person_id", "portal_id", "server_id"),
        comment="on_behalf servers a person was shown or asked to connect, per portal",
    )


def downgrade() -> None:
    op.drop_table("connect_prompts")
