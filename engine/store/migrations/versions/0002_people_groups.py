"""People keep the groups their identity provider gave at their last sign-in, so a portal
token (which names the person) is checked against group rules without a sign-in per request.

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column(
                "groups_json",
                sa.Text(),
                nullable=True,
                comment="JSON list of the groups at the last sign-in",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("groups_json")
